/// # DstackAPI
///
/// Owns the wire format of the dstack VMM "prpc" JSON API (dstack v0.5.x,
/// `vmm/rpc/proto/vmm_rpc.proto`): every call is `POST {vmm_url}/prpc/{Method}?json`
/// with a JSON body (`{}` for Empty); success is 200 with the response message, an RPC
/// error is 400 `{"error": "..."}`. One definition serves both the validator's client
/// (`DstackExecutor`) and the local stand-in server (`evalnet vmm serve`). Also the
/// dstack app-compose document (`compose_file`) and the VM status strings.
/// Foundation only.
import Foundation

/// The prpc methods used by the network.
public enum VMMMethod: String, Sendable, CaseIterable {
    case createVm = "CreateVm"
    case getInfo = "GetInfo"
    case startVm = "StartVm"
    case stopVm = "StopVm"
    case shutdownVm = "ShutdownVm"
    case removeVm = "RemoveVm"
    /// dstack's name for "list VMs".
    case status = "Status"
    /// The seed's name for `Status`; `evalnet vmm serve` answers both.
    case listVms = "ListVms"
    case version = "Version"
    /// The host's GPUs and whether each is free (to fill `gpus` of CreateVm).
    case listGpus = "ListGpus"

    /// `/prpc/{Method}?json`
    public var path: String { "/prpc/\(rawValue)?json" }
    /// The path without the query string (what a router matches).
    public var routePath: String { "/prpc/\(rawValue)" }
}

/// VM status strings as dstack reports them (`VmInfo.status`), plus the local server's
/// transient `creating`.
public enum VMStatus: String, Sendable, Codable, CaseIterable {
    /// Started and its process is running.
    case running
    /// Started, but the process ended on its own (see `exit_code` on the local server).
    case exited
    /// Stop requested, process still ending.
    case stopping
    /// Not started (created with `stopped: true`, or after StopVm).
    case stopped
    /// Being set up (local server only).
    case creating
    /// Removal in progress (newer dstack).
    case removing
}
