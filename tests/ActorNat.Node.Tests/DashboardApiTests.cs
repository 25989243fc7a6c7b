using System.Net;
using System.Text.Json.Nodes;
using ActorNat.Node.Dashboard;
using Wire = ActorNat.Api.V1;

namespace ActorNat.Node.Tests;

/// <summary>The dashboard's page and JSON on a real node (local backend), and its parsers. The browser test is tests/ActorNat.Dashboard.Tests.</summary>
public class DashboardApiTests
{
    [Fact]
    public async Task The_page_its_library_and_its_json_are_served_on_the_metrics_endpoint()
    {
        await using var n = await LiveNode.StartArticleAsync();
        for (uint i = 0; i < 3; i++) await n.Nat.TranslateAsync(new Wire.TranslateRequest { Packet = LiveNode.Udp("172.18.0.2", 30000 + i, "192.0.2.53", 53) });
        using var http = new HttpClient { BaseAddress = new Uri(n.Node.DashboardUrl!) };

        var page = await http.GetStringAsync("");
        Assert.Contains("<script src=\"uPlot.iife.min.js\">", page);
        var lib = await http.GetAsync("uPlot.iife.min.js");
        Assert.Equal(HttpStatusCode.OK, lib.StatusCode);
        Assert.Contains("uPlot", await lib.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("nothing.js")).StatusCode);
        var redirect = await new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }).GetAsync(n.Node.MetricsUrl + "/dashboard");
        Assert.Equal("/dashboard/", redirect.Headers.Location?.ToString());

        // conntrack: the lines conntrack -L prints for the same filter through the admin service
        var ct = JsonNode.Parse(await http.GetStringAsync("api/conntrack?q=" + Uri.EscapeDataString("-p udp --dport 53 -o id")))!;
        var lines = ct["lines"]!.AsArray().Select(l => (string)l!["line"]!).ToList();
        var listed = await n.ListAsync(new Wire.ConntrackFilter { Protocol = Wire.IpProtocol.Udp, DstPort = 53 });
        Assert.Equal(3, (int)ct["total"]!);
        // (the seconds-left field aside: the two listings are a moment apart)
        static string NoTimer(string l) => System.Text.RegularExpressions.Regex.Replace(l, @"^(\S+ +\d+) \d+", "$1");
        Assert.Equal(listed.Select(e => NoTimer(PacketMapper.Format(e, withId: true))).Order(), lines.Select(NoTimer).Order());
        Assert.All(lines, l => Assert.Matches(@"^udp      17 \d+ src=172\.18\.0\.2 dst=192\.0\.2\.53 sport=3000\d dport=53 \[UNREPLIED\] src=192\.0\.2\.53 dst=10\.0\.2\.15 sport=53 dport=\d+ mark=0 use=1 id=\d+$", l));
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.", (string)ct["footer"]!);
        var bad = await http.GetAsync("api/conntrack?q=" + Uri.EscapeDataString("-s 300.1.1.1"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("src_address", (string)JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["error"]!);

        // config: the admin service's listings
        var cfg = JsonNode.Parse(await http.GetStringAsync("api/config"))!;
        Assert.Equal((await n.Admin.RuleListAsync(new Wire.ListRequest())).Lines, cfg["rules"]!.AsArray().Select(l => (string)l!));

        // cluster: one member (the local backend), with this node's samples of its own /metrics
        JsonNode cluster;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            cluster = JsonNode.Parse(await http.GetStringAsync("api/cluster"))!;
            if (cluster["members"]![0]!["view"]!["samples"]!.AsArray().Count >= 2 || DateTime.UtcNow > deadline) break;
            await Task.Delay(200); // polling: the node samples every 2 s once the dashboard is watched
        } while (true);
        var self = cluster["members"]!.AsArray().Single()!;
        Assert.True((bool)self["isSelf"]!);
        Assert.Equal("Up", (string)self["status"]!);
        Assert.Equal(3, (long)self["entries"]!);
        var samples = self["view"]!["samples"]!.AsArray();
        Assert.True(samples.Count >= 2, "two samples within 30 s");
        Assert.Equal(3, (double)samples[^1]!["newFlows"]!);
        Assert.Equal(3, (double)samples[^1]!["verdicts"]!["translate"]!);
        Assert.Contains(self["view"]!["gauges"]!["pools"]!.AsArray(), p => (string)p!["natIp"]! == "10.0.2.15" && (string)p["protocol"]! == "udp" && (double)p["used"]! == 3); // three source ports kept
    }

    [Theory]
    [InlineData("-L -p tcp -s 172.18.0.2 -d 192.0.2.1 --sport 1000 --dport 80 --state ESTABLISHED", "tcp 172.18.0.2 192.0.2.1 1000 80 ESTABLISHED")]
    [InlineData("--proto udp --orig-src 10.0.0.1 --orig-port-dst 53", "udp 10.0.0.1 - - 53 -")]
    [InlineData("", "- - - - - -")]
    public void Conntrack_filters_are_read_as_conntrack_tools_reads_them(string query, string expected)
    {
        var f = ConntrackQuery.Parse(query).Filter;
        string Or(string s) => s.Length == 0 ? "-" : s;
        var got = string.Join(' ', f.Protocol == Wire.IpProtocol.Unspecified ? "-" : f.Protocol.ToString().ToLowerInvariant(), Or(f.SrcAddress), Or(f.DstAddress),
            f.HasSrcPort ? f.SrcPort.ToString() : "-", f.HasDstPort ? f.DstPort.ToString() : "-", Or(f.State));
        Assert.Equal(expected, got);
    }

    [Theory]
    [InlineData("-p sctp", "unknown protocol \"sctp\"")]
    [InlineData("--dport http", "--dport \"http\" is not a port number")]
    [InlineData("-F", "option \"-F\" needs a value")]
    [InlineData("--mark 1", "unknown option \"--mark\"")]
    [InlineData("-o xml", "unsupported output format \"xml\"")]
    public void A_bad_filter_says_which_option(string query, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => ConntrackQuery.Parse(query)).Message);

    [Theory]
    [InlineData("127.0.0.1", null, "", true)]
    [InlineData("::1", "t", "", true)]
    [InlineData("::ffff:127.0.0.1", "t", "", true)]
    [InlineData("10.1.2.3", null, "", false)]
    [InlineData("10.1.2.3", "t", "", false)]
    [InlineData("10.1.2.3", "t", "Bearer x", false)]
    [InlineData("10.1.2.3", "t", "Bearer t", true)]
    public void Listings_beyond_loopback_need_the_admin_token(string remote, string? token, string header, bool shown) =>
        Assert.Equal(shown, DashboardEndpoints.Admits(IPAddress.Parse(remote), token, header) is null);

    [Fact]
    public void Scrape_text_is_read_back_with_labels_and_infinities()
    {
        var s = ScrapeText.Parse("# HELP x y\n# TYPE x counter\nactornat_x_total{node=\"n\\\"1\",reason=\"a,b\"} 12\nactornat_h_bucket{le=\"+Inf\"} 3\nplain 1.5e3\n");
        Assert.Equal(3, s.Count);
        Assert.Equal("n\"1", s[0].Label("node"));
        Assert.Equal("a,b", s[0].Label("reason"));
        Assert.Equal(12, s[0].Value);
        Assert.Equal("+Inf", s[1].Label("le"));
        Assert.Equal(1500, s[2].Value);
    }
}
