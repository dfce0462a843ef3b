using Tessera.Core.Common;
using Tessera.Core.Users;

namespace Tessera.Core.Tests;

public class ConfusablesTests
{
    [Fact]
    public void The_shipped_data_holds_every_mapping_of_unicode_15() => Assert.InRange(Confusables.Count, 6_000, 7_000);

    [Theory]
    [InlineData("Administrator", "Admіnistrator", "Cyrillic і (U+0456) for i")]
    [InlineData("Administrator", "ADMІNISTRATOR", "Cyrillic capital І (U+0406), in capitals")]
    [InlineData("anna@example.com", "аnna@example.com", "Cyrillic а (U+0430) for a")]
    [InlineData("tim@example.com", "tım@example.com", "dotless ı (U+0131) for i")]
    [InlineData("paypal", "paypa1", "digit one for l")]
    [InlineData("root", "r0ot", "digit zero for o, whatever the case")]
    [InlineData("modern", "rnodern", "rn for m")]
    [InlineData("admin", "ad\u200Bmin", "a zero-width space inside")]
    [InlineData("admin", "ad\u00ADmin", "a soft hyphen inside")]
    [InlineData("Sales", "ＳａｌｅＳ", "fullwidth letters")]
    [InlineData("Finance", "Ｆinance", "a fullwidth capital")]
    [InlineData("café", "cafe\u0301", "precomposed and combining accent")]
    [InlineData("Ops", " ops ", "case and surrounding space")]
    [InlineData("Οps", "Ops", "Greek capital omicron for O")]
    public void Look_alikes_have_one_skeleton(string a, string b, string because)
        => Assert.True(Confusables.AreConfusable(a, b), $"{a} and {b} should be confusable: {because}; skeletons '{Confusables.Skeleton(a)}' and '{Confusables.Skeleton(b)}'.");

    [Theory]
    [InlineData("Administrator", "Administrators")]
    [InlineData("anna@example.com", "anne@example.com")]
    [InlineData("user2", "user3")]
    [InlineData("café", "cafe")]
    [InlineData("Sales", "Sale")]
    [InlineData("client-0a1b2c3d", "client-0a1b2c3e")]
    public void Different_names_keep_different_skeletons(string a, string b)
        => Assert.False(Confusables.AreConfusable(a, b), $"skeletons '{Confusables.Skeleton(a)}' and '{Confusables.Skeleton(b)}'.");

    [Theory]
    [InlineData("Administrator")]
    [InlineData("аnna@example.com")]
    [InlineData("r0ot")]
    [InlineData("ǅ-Ǆ-ǆ")]
    [InlineData("ΣΑΣ")]
    public void A_skeleton_is_its_own_skeleton(string name)
        => Assert.Equal(Confusables.Skeleton(name), Confusables.Skeleton(Confusables.Skeleton(name)));

    [Fact]
    public void A_lone_surrogate_is_compared_as_it_is()
        => Assert.Equal(Confusables.Skeleton("a\uD800b"), Confusables.Skeleton("A\uD800B"));

    [Theory]
    [InlineData(0x200B, true)]
    [InlineData(0xFEFF, true)]
    [InlineData(0xE0041, true)]
    [InlineData(0x0041, false)]
    [InlineData(0x00A0, false)]
    public void Default_ignorable_code_points_are_those_of_unicode(int c, bool ignorable) => Assert.Equal(ignorable, Confusables.IsDefaultIgnorable(c));

    [Theory]
    [InlineData("ａｎｎａ@example.com", "anna@example.com")]
    [InlineData(" ﬁona@example.com ", "fiona@example.com")]
    [InlineData("jane@example.com", "jane@example.com")]
    public void Emails_are_kept_in_normalization_form_kc(string typed, string stored) => Assert.Equal(stored, Usernames.Canonical(typed));
}
