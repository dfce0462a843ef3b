using Tessera.Core.Users;

namespace Tessera.Core.Tests;

public class UserPreferencesTests
{
    [Theory]
    [InlineData("en", "en")]
    [InlineData("DE", "de")]
    [InlineData(" de ", "de")]
    [InlineData("fr", null)]
    [InlineData("de-AT", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void A_language_is_one_of_the_supported_or_none(string? chosen, string? expected)
        => Assert.Equal(expected, UserPreferences.Language(chosen));

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData("de", true)]
    [InlineData("en", true)]
    [InlineData("fr", false)]
    [InlineData("english", false)]
    public void Only_supported_languages_or_none_may_be_chosen(string? chosen, bool accepted)
        => Assert.Equal(accepted, UserPreferences.LanguageProblem(chosen) is null);

    [Theory]
    [InlineData(null, true)]
    [InlineData("UTC", true)]
    [InlineData("Europe/Berlin", true)]
    [InlineData("America/New_York", true)]
    [InlineData("Europe/Atlantis", false)]
    [InlineData("W. Europe Standard Time", false)]
    [InlineData("+01:00", false)]
    [InlineData("CET", false)]
    public void A_time_zone_is_an_IANA_name_the_host_knows(string? zone, bool accepted)
        => Assert.Equal(accepted, UserPreferences.TimeZoneProblem(zone) is null);

    [Fact]
    public void The_offered_time_zones_start_with_UTC_and_are_all_accepted()
    {
        var zones = UserPreferences.TimeZones();
        Assert.Equal("UTC", zones[0]);
        Assert.Contains("Europe/Berlin", zones);
        Assert.All(zones, z => Assert.Null(UserPreferences.TimeZoneProblem(z)));
    }
}
