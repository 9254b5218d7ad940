import Foundation
import Testing

@testable import Dashboards

func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// The `data-x` values of the points of `series` in an SVG, in document order.
func pointXs(_ svg: String, series: String) -> [Int64] {
    let marker = "<circle class=\"pt\" data-series=\"\(series)\" data-x=\""
    return svg.components(separatedBy: marker).dropFirst().compactMap { part in
        part.split(separator: "\"", maxSplits: 1).first.flatMap { Int64($0) }
    }
}

func pointYs(_ svg: String, series: String) -> [Double] {
    svg.components(separatedBy: "data-series=\"\(series)\" data-x=\"").dropFirst().compactMap { part in
        guard let r = part.range(of: "data-y=\"") else { return nil }
        return part[r.upperBound...].split(separator: "\"", maxSplits: 1).first.flatMap { Double($0) }
    }
}

@Suite("SVG line chart")
struct ChartTests {
    @Test func onePointPerFiniteValueInOrderWithoutNaNCoordinates() {
        let points = [ChartPoint(x: 7, y: 0.5), ChartPoint(x: 3, y: 0.25), ChartPoint(x: 5, y: .nan), ChartPoint(x: 4, y: .infinity),
                      ChartPoint(x: 6, y: -1)]
        let chart = SVGLineChart(id: "c", title: "t", series: [ChartSeries(id: "a", label: "A", points: points)])
        let svg = chart.svg()
        #expect(pointXs(svg, series: "a") == [3, 6, 7])
        #expect(pointYs(svg, series: "a") == [0.25, -1, 0.5])
        #expect(occurrences(of: "<circle", in: svg) == 3)
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
    }

    @Test func higherValuesAreDrawnHigher() throws {
        let chart = SVGLineChart(id: "c", title: "t", series: [ChartSeries(id: "a", label: "A", points: [
            ChartPoint(x: 1, y: 1), ChartPoint(x: 2, y: 3), ChartPoint(x: 3, y: 2),
        ])])
        let svg = chart.svg()
        let cys = svg.components(separatedBy: "cy=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        try #require(cys.count == 3)
        // SVG y grows downwards: the largest value has the smallest cy.
        #expect(cys[1] < cys[2] && cys[2] < cys[0])
        let cxs = svg.components(separatedBy: "cx=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(cxs == cxs.sorted() && Set(cxs).count == 3)
    }

    @Test func emptySinglePointAndFlatSeriesStayDrawable() {
        let empty = SVGLineChart(id: "e", title: "t", series: [ChartSeries(id: "a", label: "A", points: [])]).svg()
        #expect(empty.contains("no data yet") && !empty.contains("<circle"))
        let nonFinite = SVGLineChart(id: "e", title: "t", series: [ChartSeries(id: "a", label: "A", points: [ChartPoint(x: 1, y: .nan)])])
        #expect(nonFinite.svg().contains("no data yet"))
        for points in [[ChartPoint(x: 9, y: 2)], [ChartPoint(x: 1, y: 2), ChartPoint(x: 2, y: 2), ChartPoint(x: 3, y: 2)]] {
            let svg = SVGLineChart(id: "f", title: "t", series: [ChartSeries(id: "a", label: "A", points: points)]).svg()
            #expect(occurrences(of: "<circle", in: svg) == points.count)
            #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        }
    }

    @Test func stepLinesHoldTheValueUntilTheNextPoint() {
        let svg = SVGLineChart(id: "s", title: "t", series: [ChartSeries(id: "a", label: "A", points: [
            ChartPoint(x: 1, y: 1), ChartPoint(x: 2, y: 2),
        ])], step: true).svg()
        #expect(svg.contains(" H") && svg.contains(" V") && !svg.contains(" L"))
    }

    @Test func labelsAndIdsAreEscaped() {
        let hostile = "<script>alert(1)</script>\"'&"
        let chart = SVGLineChart(id: hostile, title: hostile, series: [ChartSeries(id: hostile, label: hostile, points: [
            ChartPoint(x: 1, y: 1),
        ])], xName: hostile, xLabel: { _ in hostile })
        let svg = chart.svg() + chart.legendHTML()
        #expect(!svg.contains("<script"))
        #expect(!svg.contains("\"'&"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"))
    }

    @Test func xTicksIncludeBothEndsAndStayFew() {
        for (lo, hi) in [(Int64(0), Int64(0)), (0, 1), (5, 104), (-3, 17), (1000, 1099)] {
            let ticks = SVGLineChart.xTicks(lo, hi)
            #expect(ticks.first == lo && ticks.last == hi)
            #expect(ticks.count <= 8)
            #expect(ticks == ticks.sorted() && Set(ticks).count == ticks.count)
        }
    }
}
