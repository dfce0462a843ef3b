using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.OpenApi;

namespace Tessera.Server.Http;

/// <summary>
/// Makes the OpenAPI document say what the service does with a member: a member is `required` when it is marked
/// <see cref="RequiredAttribute"/>, or when it is a constructor parameter of a non-nullable type without a default
/// (a response's id, say). A nullable member without the mark is optional, as the service treats it: PATCH's members
/// left out stay as they are. Without this the generator lists every positional record parameter as required.
/// Query parameters take their description from a <see cref="DescriptionAttribute"/> on the parameter, or on the
/// property of an [AsParameters] record (`[property: Description(...)]`: on the constructor parameter, the OpenAPI
/// generator of ASP.NET Core 10 fails with an InvalidCastException, dotnet/aspnetcore#65348).
/// </summary>
public static class OpenApiContract
{
    public static OpenApiOptions AddTesseraContract(this OpenApiOptions options)
    {
        options.AddSchemaTransformer((schema, context, _) =>
        {
            // An assignment reads a bare name (or id) or an object with a validity; its converter hides both from the
            // generator, which leaves a list of them without items.
            if (context.JsonTypeInfo.Kind == JsonTypeInfoKind.Enumerable && context.JsonTypeInfo.ElementType is { } element
                && AssignmentKey(element) is { } key)
            {
                var items = new Microsoft.OpenApi.OpenApiSchema();
                DescribeAssignment(items, key.Name, key.Description);
                schema.Items = items;
                return Task.CompletedTask;
            }

            var info = context.JsonTypeInfo;
            if (info.Kind != JsonTypeInfoKind.Object || context.JsonPropertyInfo is not null
                || info.Type.Assembly != typeof(OpenApiContract).Assembly || schema.Properties is null)
            {
                return Task.CompletedTask;
            }

            var required = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var property in info.Properties)
            {
                var parameter = property.AssociatedParameter;
                var marked = property.IsRequired || Has<RequiredAttribute>(property.AttributeProvider) || Has<RequiredAttribute>(parameter?.AttributeProvider);
                var implied = parameter is { HasDefaultValue: false, IsNullable: false };
                if (marked || implied)
                {
                    required.Add(property.Name);
                }
            }

            schema.Required = required.Count == 0 ? null : required;
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            foreach (var parameter in operation.Parameters ?? [])
            {
                if (!string.IsNullOrEmpty(parameter.Description))
                {
                    continue;
                }

                var described = context.Description.ParameterDescriptions.FirstOrDefault(p => string.Equals(p.Name, parameter.Name, StringComparison.OrdinalIgnoreCase));
                var text = described?.ParameterDescriptor is Microsoft.AspNetCore.Mvc.Abstractions.ParameterDescriptor descriptor
                    ? Description(descriptor)
                    : null;
                if (text is not null && parameter is Microsoft.OpenApi.OpenApiParameter concrete)
                {
                    concrete.Description = text;
                }
            }

            return Task.CompletedTask;
        });
        return options;
    }

    private static string? Description(Microsoft.AspNetCore.Mvc.Abstractions.ParameterDescriptor descriptor)
    {
        if (descriptor is Microsoft.AspNetCore.Mvc.Infrastructure.IParameterInfoParameterDescriptor { ParameterInfo: { } info }
            && info.GetCustomAttribute<DescriptionAttribute>() is { } onParameter)
        {
            return onParameter.Description;
        }

        if (descriptor is Microsoft.AspNetCore.Mvc.Infrastructure.IPropertyInfoParameterDescriptor { PropertyInfo: { } property }
            && property.GetCustomAttribute<DescriptionAttribute>() is { } onProperty)
        {
            return onProperty.Description;
        }

        return null;
    }

    private static (string Name, string Description)? AssignmentKey(Type type)
        => type == typeof(Governance.RoleAssignment) ? ("name", "A role name: held for good.")
            : type == typeof(Governance.MemberAssignment) ? ("id", "A user id: a member for good.")
            : null;

    /// <summary>"A string or an object": the bare key, or the key with an optional validFrom (inclusive) and validUntil (exclusive), UTC.</summary>
    private static void DescribeAssignment(Microsoft.OpenApi.OpenApiSchema schema, string key, string bare)
    {
        var instant = (string description) => new Microsoft.OpenApi.OpenApiSchema
        {
            Type = Microsoft.OpenApi.JsonSchemaType.String | Microsoft.OpenApi.JsonSchemaType.Null, Format = "date-time", Description = description,
        };
        schema.Type = null;
        schema.Properties = null;
        schema.Required = null;
        schema.Description = "A string or an object: the " + key + " alone (held for good), or with its validity.";
        schema.OneOf =
        [
            new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Description = bare, Format = key == "id" ? "uuid" : null },
            new Microsoft.OpenApi.OpenApiSchema
            {
                Type = Microsoft.OpenApi.JsonSchemaType.Object,
                Required = new HashSet<string> { key },
                Properties = new Dictionary<string, Microsoft.OpenApi.IOpenApiSchema>
                {
                    [key] = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Format = key == "id" ? "uuid" : null },
                    ["validFrom"] = instant("When it begins to count (inclusive); null or left out: from now."),
                    ["validUntil"] = instant("When it stops counting (exclusive); null or left out: for good. At most ten years ahead, and not in the past."),
                },
            },
        ];
    }

    private static bool Has<T>(ICustomAttributeProvider? provider) where T : Attribute
        => provider?.IsDefined(typeof(T), inherit: true) == true;
}
