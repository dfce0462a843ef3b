using Zxcvbn.Matcher;

namespace Tessera.Core.Credentials;

/// <summary>
/// How hard a password is to guess: a score from 0 (guessed at once) to 4 (very hard), and, for a weak one,
/// a warning (what makes it weak) and suggestions (what to do instead) to show the person choosing it.
/// </summary>
public sealed record PasswordStrength(int Score, string? Warning, IReadOnlyList<string> Suggestions);

/// <summary>Estimates <see cref="PasswordStrength"/>.</summary>
public interface IPasswordStrengthEstimator
{
    /// <param name="password">The password as typed.</param>
    /// <param name="personalData">Words that a guesser would try first for this person: username, email, names.</param>
    PasswordStrength Estimate(string password, IEnumerable<string> personalData);
}

/// <summary>
/// The estimate of zxcvbn (Dan Wheeler, Dropbox; the .NET port zxcvbn-core): it finds the dictionary words, names,
/// keyboard patterns, repeats, sequences and dates a password is made of and scores the guesses they need
/// (0: under 10^2 seconds of an offline attack; 4: centuries). The port gives no feedback of its own, so the
/// warning and suggestions are worked out here from the weakest part it found, as the JavaScript zxcvbn does.
/// </summary>
public sealed class ZxcvbnEstimator : IPasswordStrengthEstimator
{
    // zxcvbn's own limit: past it, matching costs grow quickly and the score is 4 anyway for any non-trivial input.
    private const int MaxEvaluatedLength = 100;

    // The dictionaries load once; an instance keeps no state between calls.
    private static readonly Zxcvbn.Zxcvbn Engine = new();

    public PasswordStrength Estimate(string password, IEnumerable<string> personalData)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length == 0)
        {
            return new PasswordStrength(0, null, [Suggestions.FewWords, Suggestions.NoNeedForSymbols]);
        }

        var inputs = personalData.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim().ToLowerInvariant()).Distinct().ToList();
        var result = Engine.EvaluatePassword(password.Length > MaxEvaluatedLength ? password[..MaxEvaluatedLength] : password, inputs);
        var score = Math.Clamp(result.Score, 0, 4);
        if (score >= 3)
        {
            return new PasswordStrength(score, null, []);
        }

        return Feedback(score, password, result.MatchSequence ?? []);
    }

    /// <summary>The warning and suggestions for a weak password: judged by its longest recognisable part.</summary>
    private static PasswordStrength Feedback(int score, string password, IList<Zxcvbn.Match> matches)
    {
        var suggestions = new List<string>();
        var weakest = matches.Where(m => m.Pattern != "bruteforce" && m.Token is { Length: > 0 }).OrderByDescending(m => m.Token.Length).FirstOrDefault();
        string? warning = null;
        if (weakest is not null)
        {
            var whole = weakest.Token.Length == password.Length;
            warning = weakest switch
            {
                DictionaryMatch word => WordWarning(word, whole, matches.Count),
                SpatialMatch keys => keys.Turns == 1 ? Warnings.StraightRow : Warnings.ShortKeyboardPattern,
                RepeatMatch => weakest.Token.Distinct().Count() == 1 ? Warnings.RepeatedCharacter : Warnings.RepeatedPattern,
                SequenceMatch => Warnings.Sequence,
                DateMatch => Warnings.Date,
                _ when weakest.Pattern is "year" or "date" => Warnings.Year,
                _ => null,
            };

            switch (weakest)
            {
                case DictionaryMatch word:
                    if (weakest is L33tDictionaryMatch)
                    {
                        suggestions.Add(Suggestions.Substitutions);
                    }

                    if (word.Token.Length > 1 && word.Token.All(char.IsUpper))
                    {
                        suggestions.Add(Suggestions.AllUppercase);
                    }
                    else if (char.IsUpper(word.Token[0]))
                    {
                        suggestions.Add(Suggestions.Capitalization);
                    }

                    break;
                case SpatialMatch:
                    suggestions.Add(Suggestions.LongerKeyboardPattern);
                    break;
                case RepeatMatch:
                    suggestions.Add(Suggestions.AvoidRepeats);
                    break;
                case SequenceMatch:
                    suggestions.Add(Suggestions.AvoidSequences);
                    break;
                case DateMatch:
                    suggestions.Add(Suggestions.AvoidDates);
                    break;
                default:
                    if (weakest.Pattern is "year" or "date")
                    {
                        suggestions.Add(Suggestions.AvoidYears);
                    }

                    break;
            }
        }

        suggestions.Insert(0, Suggestions.AnotherWord);
        return new PasswordStrength(score, warning, suggestions);
    }

    private static string? WordWarning(DictionaryMatch word, bool whole, int parts) => word.DictionaryName switch
    {
        "passwords" when whole && word.Rank <= 10 => Warnings.Top10,
        "passwords" when whole && word.Rank <= 100 => Warnings.Top100,
        "passwords" when whole => Warnings.VeryCommon,
        "passwords" => Warnings.SimilarToCommon,
        "user_inputs" => Warnings.PersonalData,
        "english" or "us_tv_and_film" or "wikipedia" when whole || parts <= 2 => Warnings.SingleWord,
        "surnames" or "male_names" or "female_names" when whole => Warnings.NameByItself,
        "surnames" or "male_names" or "female_names" => Warnings.CommonName,
        _ => null,
    };

    /// <summary>What makes a password weak, in the words shown to the person choosing it.</summary>
    public static class Warnings
    {
        public const string Top10 = "This is one of the ten most common passwords.";
        public const string Top100 = "This is one of the hundred most common passwords.";
        public const string VeryCommon = "This is a very common password.";
        public const string SimilarToCommon = "This is built on a commonly used password.";
        public const string PersonalData = "It contains your name, username or email address, which a guesser tries first.";
        public const string SingleWord = "A single dictionary word is easy to guess, even with a number or a symbol added.";
        public const string NameByItself = "A name or surname by itself is easy to guess.";
        public const string CommonName = "Common names and surnames are easy to guess.";
        public const string StraightRow = "Straight rows of keys, like qwerty, are easy to guess.";
        public const string ShortKeyboardPattern = "Short keyboard patterns are easy to guess.";
        public const string RepeatedCharacter = "Repeated characters, like aaa, are easy to guess.";
        public const string RepeatedPattern = "Repeats, like abcabcabc, are only slightly harder to guess than abc.";
        public const string Sequence = "Sequences, like abc or 6543, are easy to guess.";
        public const string Year = "Recent years are easy to guess.";
        public const string Date = "Dates are often easy to guess.";
    }

    /// <summary>What to do instead.</summary>
    public static class Suggestions
    {
        public const string FewWords = "Use a few words, and avoid common phrases.";
        public const string NoNeedForSymbols = "Symbols, digits and capitals are not needed: length counts most.";
        public const string AnotherWord = "Add another word or two; uncommon words are better.";
        public const string Capitalization = "A capital first letter does not help very much.";
        public const string AllUppercase = "All capitals are almost as easy to guess as all lower case.";
        public const string Substitutions = "Predictable substitutions, like @ for a or 0 for o, do not help very much.";
        public const string LongerKeyboardPattern = "Use a longer keyboard pattern with more turns.";
        public const string AvoidRepeats = "Avoid repeated words and characters.";
        public const string AvoidSequences = "Avoid sequences.";
        public const string AvoidYears = "Avoid recent years, and years that are associated with you.";
        public const string AvoidDates = "Avoid dates and years that are associated with you.";
    }
}
