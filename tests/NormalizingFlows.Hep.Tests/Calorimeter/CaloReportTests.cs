using System.Text.RegularExpressions;
using NormalizingFlows.Hep.Calorimeter;

namespace NormalizingFlows.Hep.Tests.Calorimeter;

public class CaloReportTests
{
    [Fact]
    public void AverageShowerImagesColourEveryVoxelThatReceivedEnergy()
    {
        var showers = new ToyCalorimeter().Simulate(CaloParticle.Positron, 200, 7);
        string html = CaloEvaluation.Report("calo", showers, [new CaloCandidate("copy", showers, 1e-3)], [], 1e-2).Render();
        string images = html[html.IndexOf("Average shower images", StringComparison.Ordinal)..];
        for (int l = 0; l < 3; l++)
        {
            var g = CaloGeometry.Layers[l];
            var mean = CaloObservables.AverageImage(showers, l);
            int reached = mean.Cast<double>().Count(v => v > 0);
            Assert.True(reached > g.Rows * g.Columns / 4, $"layer {l}: only {reached} voxels received energy");
            string svg = Regex.Match(images, $"<svg[^>]*>(?:(?!</svg>).)*simulator: layer {l}.*?</svg>", RegexOptions.Singleline).Value;
            Assert.NotEmpty(svg);
            string plotArea = Regex.Match(svg, "<g clip-path=.*?</g>", RegexOptions.Singleline).Value;
            Assert.Equal(reached, Regex.Matches(plotArea, "<rect [^>]*fill=\"rgb\\(").Count);
            Assert.Contains("class=\"colorbar\"", svg);
        }
    }
}
