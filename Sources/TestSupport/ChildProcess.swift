import Foundation

/// Waiting for a child process from a test without holding a thread of the cooperative pool.
public enum ChildProcess {
    /// Reads `pipe` to its end, then waits for `process` to exit, on a Dispatch thread, never
    /// on the cooperative pool: a server under test in this process answers the child from that
    /// pool (two cores = two threads), and a test blocking one of them while another test
    /// blocks the other leaves the server unable to answer until the child gives up.
    public static func output(of process: Process, reading pipe: Pipe) async -> Data {
        await withCheckedContinuation { (done: CheckedContinuation<Data, Never>) in
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                done.resume(returning: data)
            }
        }
    }
}
