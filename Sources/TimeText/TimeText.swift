/// # TimeText
///
/// Owns the one writer of RFC 3339 UTC timestamps used on both services' wires
/// (`2026-11-30T16:36:34Z`, or with milliseconds `…34.123Z`): civil dates computed from the
/// day count directly, no formatter objects (they cost more than the rest of a response).
public enum RFC3339 {
    /// The UTC text of `unixSeconds`: rounded to the millisecond with the fraction written
    /// when `fraction` is true, else truncated to whole seconds. Times outside years
    /// 1...9999 are clamped into them (four-digit years); NaN is the epoch.
    public static func utc(_ unixSeconds: Double, fraction: Bool) -> String {
        let lowest = -62_135_596_800.0, highest = 253_402_300_799.999  // 0001-01-01 … 9999-12-31
        let t = unixSeconds.isNaN ? 0 : min(max(unixSeconds, lowest), highest)
        let milliseconds = fraction ? Int64((t * 1000).rounded()) : Int64(t.rounded(.down)) * 1000
        let ms = (milliseconds % 1000 + 1000) % 1000
        let seconds = (milliseconds - ms) / 1000
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func put(_ value: Int64, _ width: Int) {
            var n = value
            let start = out.count
            for _ in 0..<width {
                out.append(0x30 + UInt8(truncatingIfNeeded: n % 10))
                n /= 10
            }
            out[start...].reverse()
        }
        put(year, 4); out.append(UInt8(ascii: "-")); put(month, 2); out.append(UInt8(ascii: "-")); put(day, 2)
        out.append(UInt8(ascii: "T"))
        put(rest / 3600, 2); out.append(UInt8(ascii: ":")); put(rest / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        put(rest % 60, 2)
        if fraction {
            out.append(UInt8(ascii: "."))
            put(ms, 3)
        }
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
