import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time used so far, in milliseconds: by this process (the pool server, when it runs
/// here, and the miners), and by every PostgreSQL server process on this machine — the live
/// ones, and what the postmaster has reaped of exited backends and autovacuum workers (their
/// time moves into its children's counters) — read from /proc; nil where /proc has none.
/// Divided by the cycles completed between two samples it is the cost of a cycle, which the
/// machine's drift in speed moves far less than the rate (a run that slows down because
/// its work per cycle grows shows it here; one that slows down because the machine does shows
/// it mostly in the rate).
struct CPUSample {
    var process: Double
    var postgres: Double?

    static func now() -> CPUSample {
        CPUSample(process: processCPUMilliseconds(), postgres: postgresMilliseconds())
    }

    /// The CPU time of processes named `postgres`, in milliseconds, or nil when there are none.
    static func postgresMilliseconds() -> Double? {
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard ticksPerSecond > 0 else { return nil }
        var ticks = 0.0, found = false
        for pid in pids where pid.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
                  stat[stat.index(after: open)..<close] == "postgres"
            else { continue }
            // After the name: state, ppid, …; utime, stime, cutime, cstime are the 14th to 17th
            // fields of the line, the 12th to 15th after it.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 14 else { continue }
            found = true
            for i in 11...14 { ticks += Double(fields[i]) ?? 0 }
        }
        return found ? ticks / ticksPerSecond * 1000 : nil
    }
}

/// This process's CPU time so far (every thread), in milliseconds.
func processCPUMilliseconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1e6
}

/// Samples `CPUSample` at `start` and then every `slice` seconds, `slices` times.
func sampleCPU(every slice: Double, slices: Int) async -> [CPUSample] {
    let clock = ContinuousClock()
    let start = clock.now
    var samples = [CPUSample.now()]
    for k in 1...max(1, slices) {
        try? await clock.sleep(until: start + .milliseconds(Int64(slice * 1000 * Double(k))))
        samples.append(CPUSample.now())
    }
    return samples
}

/// Milliseconds of CPU per cycle in each slice, from consecutive samples of `value` and the
/// cycles per second of each slice.
func cpuPerCycle(_ samples: [CPUSample], rates: [Double], slice: Double, _ value: (CPUSample) -> Double?) -> [Double]? {
    var out: [Double] = []
    for (k, rate) in rates.enumerated() where k + 1 < samples.count {
        guard let a = value(samples[k]), let b = value(samples[k + 1]) else { return nil }
        out.append(rate > 0 ? (b - a) / (rate * slice) : .nan)
    }
    return out
}
