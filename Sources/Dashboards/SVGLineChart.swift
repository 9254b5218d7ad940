import Foundation

/// One point of a series: `x` is an integer position (a window number, a minute), `y` its value.
public struct ChartPoint: Sendable, Equatable {
    public var x: Int64
    public var y: Double
    public init(x: Int64, y: Double) {
        self.x = x
        self.y = y
    }
}

public struct ChartSeries: Sendable, Equatable {
    /// Machine name, written as `data-series` on every point (tests and scripts read it).
    public var id: String
    /// Shown in the legend and the points' tooltips.
    public var label: String
    public var points: [ChartPoint]
    public init(id: String, label: String, points: [ChartPoint]) {
        self.id = id
        self.label = label
        self.points = points
    }
}

/// A line chart drawn as inline SVG: axes with a few labelled ticks, one polyline (or step line)
/// and one `<circle class="pt">` per point, each carrying `data-series`, `data-x` and `data-y` and
/// a `<title>` tooltip. Points whose `y` is not finite are left out. The SVG scales to the width
/// of its container (`viewBox`, no fixed size).
public struct SVGLineChart: Sendable {
    public var id: String
    public var title: String
    public var series: [ChartSeries]
    /// Draws each series as steps (the value holds until the next point), as a SOTA does.
    public var step: Bool
    /// What an x value is called in tooltips and under the axis ("window", "minute").
    public var xName: String
    /// Labels an x tick (default: the number itself).
    public var xLabel: @Sendable (Int64) -> String
    /// Counts: the axis starts at 0 and its ticks are whole numbers.
    public var counts = false
    public var width = 640.0
    public var height = 220.0

    public init(id: String, title: String, series: [ChartSeries], step: Bool = false, xName: String = "window",
                xLabel: @escaping @Sendable (Int64) -> String = { String($0) }) {
        self.id = id
        self.title = title
        self.series = series
        self.step = step
        self.xName = xName
        self.xLabel = xLabel
    }

    static let left = 58.0, right = 12.0, top = 10.0, bottom = 30.0

    /// The points that are drawn, per series (non-finite values left out).
    public var drawnSeries: [ChartSeries] {
        series.map { s in ChartSeries(id: s.id, label: s.label, points: s.points.filter { $0.y.isFinite }) }
    }

    public func svg() -> String {
        let drawn = drawnSeries
        let all = drawn.flatMap(\.points)
        let esc = HTMLText.escape
        func open(_ h: Double) -> String {
            "<svg class=\"chart\" id=\"\(esc(id))\" viewBox=\"0 0 \(Self.num(width)) \(Self.num(h))\" "
                + "role=\"img\" aria-label=\"\(esc(title))\" preserveAspectRatio=\"xMidYMid meet\">"
        }
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max(),
              let minY = all.map(\.y).min(), let maxY = all.map(\.y).max()
        else {
            // A short box: nothing to draw.
            return open(60) + "<text class=\"empty\" x=\"\(Self.num(width / 2))\" y=\"34\" text-anchor=\"middle\">no data yet</text></svg>"
        }
        var out = open(height)
        let (lowY, highY) = counts ? (0, max(4, (max(0, maxY) / 4).rounded(.up) * 4)) : Self.yRange(minY, maxY)
        let plotW = width - Self.left - Self.right, plotH = height - Self.top - Self.bottom
        func px(_ x: Int64) -> Double {
            maxX == minX ? Self.left + plotW / 2 : Self.left + Double(x - minX) / Double(maxX - minX) * plotW
        }
        func py(_ y: Double) -> Double { Self.top + (highY - y) / (highY - lowY) * plotH }

        // Axes and ticks.
        out += "<g class=\"axis\">"
        out += "<line x1=\"\(Self.num(Self.left))\" y1=\"\(Self.num(Self.top + plotH))\" x2=\"\(Self.num(width - Self.right))\" y2=\"\(Self.num(Self.top + plotH))\"/>"
        out += "<line x1=\"\(Self.num(Self.left))\" y1=\"\(Self.num(Self.top))\" x2=\"\(Self.num(Self.left))\" y2=\"\(Self.num(Self.top + plotH))\"/>"
        for i in 0...4 {
            let v = lowY + (highY - lowY) * Double(i) / 4
            let y = py(v)
            out += "<line class=\"grid\" x1=\"\(Self.num(Self.left))\" y1=\"\(Self.num(y))\" x2=\"\(Self.num(width - Self.right))\" y2=\"\(Self.num(y))\"/>"
            let label = counts ? String(format: "%.0f", v) : Self.tickLabel(v, span: highY - lowY)
            out += "<text x=\"\(Self.num(Self.left - 4))\" y=\"\(Self.num(y + 4))\" text-anchor=\"end\">\(esc(label))</text>"
        }
        for x in Self.xTicks(minX, maxX) {
            // The last label ends at the axis end, so it is not cut off.
            let anchor = x == maxX && maxX > minX ? "end" : "middle"
            out += "<text x=\"\(Self.num(px(x)))\" y=\"\(Self.num(Self.top + plotH + 16))\" text-anchor=\"\(anchor)\">\(esc(xLabel(x)))</text>"
        }
        out += "<text class=\"xname\" x=\"\(Self.num(Self.left))\" y=\"\(Self.num(height - 2))\" text-anchor=\"start\">\(esc(xName))</text>"
        out += "</g>"

        for (n, s) in drawn.enumerated() where !s.points.isEmpty {
            let pts = s.points.sorted { $0.x < $1.x }
            var path = ""
            for (i, p) in pts.enumerated() {
                if i == 0 {
                    path += "M\(Self.num(px(p.x))) \(Self.num(py(p.y)))"
                } else if step {
                    path += " H\(Self.num(px(p.x))) V\(Self.num(py(p.y)))"
                } else {
                    path += " L\(Self.num(px(p.x))) \(Self.num(py(p.y)))"
                }
            }
            out += "<g class=\"series s\(n % 6)\" data-series=\"\(esc(s.id))\"><path d=\"\(path)\"/>"
            for p in pts {
                out += "<circle class=\"pt\" data-series=\"\(esc(s.id))\" data-x=\"\(p.x)\" data-y=\"\(Self.value(p.y))\" "
                    + "cx=\"\(Self.num(px(p.x)))\" cy=\"\(Self.num(py(p.y)))\" r=\"3\">"
                    + "<title>\(esc(s.label)) — \(esc(xName)) \(esc(xLabel(p.x))): \(Self.value(p.y))</title></circle>"
            }
            out += "</g>"
        }
        out += "</svg>"
        return out
    }

    /// The legend as HTML (one swatch per series).
    public func legendHTML() -> String {
        series.enumerated().map { n, s in
            "<span class=\"lg s\(n % 6)\"><i></i>\(HTMLText.escape(s.label))</span>"
        }.joined(separator: " ")
    }

    /// A value range with some room; a flat series gets a band around its value.
    static func yRange(_ minY: Double, _ maxY: Double) -> (Double, Double) {
        if maxY == minY {
            let pad = max(abs(minY) * 0.1, 0.5)
            return (minY - pad, maxY + pad)
        }
        let pad = (maxY - minY) * 0.08
        return (minY - pad, maxY + pad)
    }

    /// At most 7 evenly spaced integer ticks including both ends.
    static func xTicks(_ minX: Int64, _ maxX: Int64) -> [Int64] {
        guard maxX > minX else { return [minX] }
        let span = maxX - minX
        let stepX = max(1, Int64((Double(span) / 6).rounded(.up)))
        var ticks = Array(stride(from: minX, through: maxX, by: Int(stepX)))
        if ticks.last != maxX {
            if let last = ticks.last, last != minX, (maxX - last) * 4 < stepX * 3 { ticks.removeLast() }
            ticks.append(maxX)
        }
        return ticks
    }

    static func tickLabel(_ v: Double, span: Double) -> String {
        if span >= 100 { return String(format: "%.0f", v) }
        if span >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.4f", v)
    }

    /// A coordinate with two decimals (enough for a 640-wide view box).
    static func num(_ v: Double) -> String {
        guard v.isFinite else { return "0.00" }
        let cents = Int((v * 100).rounded())
        let whole = abs(cents) / 100, frac = abs(cents) % 100
        return (cents < 0 ? "-" : "") + String(whole) + (frac < 10 ? ".0" : ".") + String(frac)
    }

    /// A data value as written in `data-y` and tooltips: shortest round-trip text.
    static func value(_ v: Double) -> String { "\(v)" }
}
