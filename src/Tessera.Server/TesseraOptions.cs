using System.ComponentModel.DataAnnotations;

namespace Tessera.Server;

/// <summary>`Tessera`: settings that the whole service shares.</summary>
public sealed class TesseraOptions
{
    /// <summary>The address people reach Tessera at; links in emails start with it.</summary>
    [Required, Url]
    public string PublicUrl { get; set; } = "http://localhost:5080";

    public string Link(string pathAndQuery) => PublicUrl.TrimEnd('/') + pathAndQuery;
}
