import Foundation
import Testing

@testable import Hotkeys

/// Our signatures checked by an independent implementation (Rust schnorrkel through
/// py-sr25519-bindings), when it is installed (`.ci/run` installs it).
@Suite struct ExternalOracleTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/sr25519_oracle.py").path

    static var required: Bool { ProcessInfo.processInfo.environment["EVALNET_REQUIRE_SR25519_ORACLE"] == "1" }

    @Test func schnorrkelAcceptsOurSignaturesAndRejectsTampered() throws {
        var items: [[String: String]] = []
        var expected: [Bool] = []
        for i in 0..<40 {
            let key = SR25519Keypair.generate()
            let message = (0..<(i * 37 % 400)).map { UInt8(($0 * 7 + i) & 0xFF) }
            let sig = key.sign(message)
            items.append(["public_key": key.publicKey.hex, "message": Hex.encode(message), "signature": Hex.encode(sig)])
            expected.append(true)
            items.append(["public_key": key.publicKey.hex, "message": Hex.encode(message + [1]), "signature": Hex.encode(sig)])
            expected.append(false)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            if Self.required { Issue.record("python3 not runnable: \(error)") }
            return
        }
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: items))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 3 {
            if Self.required { Issue.record("py-sr25519-bindings is not installed") }
            return
        }
        #expect(process.terminationStatus == 0)
        let verdicts = try JSONDecoder().decode([Bool].self, from: data)
        #expect(verdicts == expected)
    }
}
