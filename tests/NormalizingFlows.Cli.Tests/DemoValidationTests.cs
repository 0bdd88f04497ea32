using System.Globalization;
using System.Text.RegularExpressions;
using NormalizingFlows.Cli;

namespace NormalizingFlows.Cli.Tests;

public class DemoValidationTests
{
    [Fact]
    public void DemoChoosesItsEpochOnAValidationSplitNotOnTheTestSet()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nflow-demo-val-{Guid.NewGuid():N}.html");
        var output = new StringWriter();
        try
        {
            Assert.Equal(0, Demo.Run("moons", path, epochs: 1, seed: 3, output: output));
            string log = output.ToString();
            Assert.Contains("18000 training, 2000 validation and 5000 test events", log);
            var validation = Regex.Matches(log, @"validation\s+(-?[0-9]+\.[0-9]{4})").Select(m => m.Groups[1].Value).ToArray();
            Assert.Single(validation);
            string test = Regex.Match(log, @"test log-likelihood: (-?[0-9]+\.[0-9]{4})").Groups[1].Value;
            Assert.NotEmpty(test);
            // with the test set as validation data, the kept epoch's validation figure IS the test figure
            Assert.DoesNotContain(test, validation);
            string html = File.ReadAllText(path);
            Assert.Contains("2000 validation (best epoch chosen on them)", html);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
