import DstackAPI
import Foundation

/// How `evalnet vmm serve` runs a compose file as a host process (its "VM").
///
/// The compose text is the `compose_file` of CreateVm: an app-compose JSON document (its
/// `docker_compose_file` is used) or bare compose YAML, read by `ComposeYAML` (Yams, with
/// anchors, aliases, merge keys and tags resolved). From the **first service** (in
/// document order):
/// - `entrypoint` and `command`: a list is an argv (entrypoint first, then command); a
///   string is run with `/bin/sh -c`. One of them is required — images are not run.
/// - `environment`: a mapping or a list of `KEY=VALUE`.
/// - `working_dir`: a path inside the VM's root directory (default: the root).
/// - `configs`: top-level configs with inline `content:` are written under the VM's root
///   directory at their `target` (default `/<name>`), so a self-contained compose file
///   can carry its scripts; `file:` configs are refused (no files travel with a VM).
/// The VM's root is `<state-dir>/vms/<id>/root`; absolute paths in commands are *not*
/// rewritten, so commands should use paths relative to `working_dir`.
public struct ComposeLaunch: Sendable, Equatable {
    public var serviceName: String
    /// The argv to run (a shell command becomes `["/bin/sh", "-c", text]`).
    public var argv: [String]
    public var environment: [String: String]
    /// Relative to the VM root ("" = the root).
    public var workingDir: String
    /// Files to create: path relative to the VM root → content.
    public var files: [String: String]

    /// Why a compose file cannot be run as a VM (`message` says what is wrong).
    public struct Invalid: Error, CustomStringConvertible, Sendable, Equatable {
        public var message: String
        public var description: String { message }
    }

    public static func parse(composeFile: String) throws -> ComposeLaunch {
        let yaml: String
        if let app = AppCompose.parse(composeFile) {
            yaml = app.dockerComposeFile
        } else if composeFile.drop(while: { $0.isWhitespace }).first == "{" {
            throw Invalid(message: "compose_file looks like JSON but is not an app-compose document (docker_compose_file missing)")
        } else {
            yaml = composeFile
        }
        let root: YAMLNode
        do { root = try ComposeYAML.parse(yaml) } catch { throw Invalid(message: "compose file: \(error)") }
        guard case let .mapping(services)? = root["services"], let (name, service) = services.first else {
            throw Invalid(message: "compose file has no services")
        }
        func argvOf(_ node: YAMLNode?, _ field: String) throws -> (argv: [String], shell: Bool)? {
            switch node {
            case nil, .null?: return nil
            case let .scalar(s)?: return (["/bin/sh", "-c", s], true)
            case let .sequence(items)?:
                let strings = items.compactMap(\.string)
                guard strings.count == items.count, !strings.isEmpty else {
                    throw Invalid(message: "service \(name): \(field) must be a string or a list of strings")
                }
                return (strings, false)
            default: throw Invalid(message: "service \(name): \(field) must be a string or a list of strings")
            }
        }
        let entry = try argvOf(service["entrypoint"], "entrypoint")
        let command = try argvOf(service["command"], "command")
        var argv: [String]
        switch (entry, command) {
        case let (e?, c?): argv = e.shell ? e.argv : e.argv + (c.shell ? [c.argv[2]] : c.argv)
        case let (e?, nil): argv = e.argv
        case let (nil, c?): argv = c.argv
        case (nil, nil):
            throw Invalid(message: "service \(name) has no command or entrypoint; the local VMM runs commands, not images")
        }
        var env: [String: String] = [:]
        switch service["environment"] {
        case nil, .null?: break
        case let .mapping(entries)?:
            for (k, v) in entries {
                switch v {
                case let .scalar(s): env[k] = s
                case .null: env[k] = ""
                default: throw Invalid(message: "service \(name): environment.\(k) must be a scalar")
                }
            }
        case let .sequence(items)?:
            for item in items {
                guard let s = item.string else { throw Invalid(message: "service \(name): environment entries must be strings") }
                let parts = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
        default: throw Invalid(message: "service \(name): environment must be a mapping or a list")
        }
        let workingDir = try relativePath(service["working_dir"]?.string ?? "", what: "working_dir")
        var files: [String: String] = [:]
        if case let .sequence(refs)? = service["configs"] {
            for ref in refs {
                let source: String
                var target: String?
                switch ref {
                case let .scalar(s): source = s
                case .mapping:
                    guard let s = ref["source"]?.string else { throw Invalid(message: "service \(name): a config needs a source") }
                    source = s
                    target = ref["target"]?.string
                default: throw Invalid(message: "service \(name): bad configs entry")
                }
                guard let def = root["configs"]?[source] else { throw Invalid(message: "config \(source) is not defined") }
                guard let content = def["content"]?.string else {
                    throw Invalid(message: "config \(source): only inline `content:` configs are supported by the local VMM")
                }
                files[try relativePath(target ?? "/\(source)", what: "config target")] = content
            }
        }
        return ComposeLaunch(serviceName: name, argv: argv, environment: env, workingDir: workingDir, files: files)
    }

    /// "/app/x.py" → "app/x.py"; refuses "..".
    static func relativePath(_ path: String, what: String) throws -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") { throw Invalid(message: "\(what) \(path) must not contain ..") }
        return parts.joined(separator: "/")
    }
}
