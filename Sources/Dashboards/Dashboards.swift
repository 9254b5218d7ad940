/// # Dashboards
///
/// Owns the rendering of the operators' live web pages (`GET /dashboard` of the pool and of the
/// platform): the view models built from plain input values, the inline SVG charts (our own
/// code, `SVGLineChart`), and the HTML templates (swift-mustache) with their CSS and the small
/// polling script. Nothing here touches HTTP or storage: `PoolServer/PoolDashboard.swift` and
/// `PlatformServer/PlatformDashboard.swift` gather the data from their stores (the same store
/// methods as the JSON endpoints) and serve what this module renders.
///
/// Every text that comes from users (hotkeys, challenge names, error messages) is HTML-escaped:
/// the templates use escaping `{{…}}` tags for values, and the only unescaped insertions
/// (`{{{…}}}`) are SVG and fragments this module produced itself from escaped parts.
import Foundation
import Mustache

/// HTML escaping for text placed in element content or in quoted attribute values.
public enum HTMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// Number formatting shared by the pages (and by the tests that compare the page with JSON).
public enum DashboardFormat {
    /// A score or reputation: 4 decimals, `-` when absent or not finite.
    public static func score(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "-" }
        return String(format: "%.4f", v)
    }

    /// A ratio 0...1 as a percentage with one decimal.
    public static func percent(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        return String(format: "%.1f%%", v * 100)
    }

    /// Seconds as `1h 02m 03s` / `2m 03s` / `3s`.
    public static func duration(_ seconds: Int64) -> String {
        let s = max(0, seconds)
        let h = s / 3600, m = (s % 3600) / 60, r = s % 60
        if h > 0 { return String(format: "%lldh %02lldm %02llds", h, m, r) }
        if m > 0 { return String(format: "%lldm %02llds", m, r) }
        return "\(r)s"
    }

    /// A hotkey shortened for narrow screens (the full one is in the element's title).
    public static func shortKey(_ key: String) -> String {
        key.count > 16 ? String(key.prefix(8)) + "…" + String(key.suffix(6)) : key
    }
}

/// The compiled templates; parsed once.
enum DashboardTemplates {
    static let library: Result<MustacheLibrary, any Error> = Result {
        var library = MustacheLibrary()
        try library.register(PageTemplates.page, named: "page")
        try library.register(PageTemplates.pool, named: "pool")
        try library.register(PageTemplates.platform, named: "platform")
        return library
    }

    static func render(_ object: Any, _ name: String) throws -> String {
        let library = try library.get()
        guard let text = library.render(object, withTemplate: name) else { throw DashboardError.missingTemplate(name) }
        return text
    }
}

public enum DashboardError: Error, CustomStringConvertible {
    case missingTemplate(String)
    public var description: String {
        switch self {
        case let .missingTemplate(name): "dashboard template \(name) is missing"
        }
    }
}

/// The whole page around a fragment: head (viewport, inline CSS), header, the fragment in
/// `<main id="dash">`, and the script that re-fetches the fragment every `refreshSeconds`.
public struct DashboardPage: Sendable {
    public var title: String
    public var service: String
    public var refreshSeconds: Int

    public init(title: String, service: String, refreshSeconds: Int = 5) {
        self.title = title
        self.service = service
        self.refreshSeconds = refreshSeconds
    }

    /// The HTTP headers of a dashboard answer: HTML, never cached, and a policy that allows
    /// nothing but the page's own inline style and script and fetches to its own origin.
    public static let headers: [(String, String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            + "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]

    struct Model {
        var title: String
        var service: String
        var refreshMs: Int
        var refreshSeconds: Int
        var fragment: String
    }

    /// The full HTML document with `fragment` (already rendered and escaped) inside.
    public func render(fragment: String) throws -> String {
        try DashboardTemplates.render(Model(title: title, service: service, refreshMs: max(1, refreshSeconds) * 1000,
                                            refreshSeconds: max(1, refreshSeconds), fragment: fragment), "page")
    }
}
