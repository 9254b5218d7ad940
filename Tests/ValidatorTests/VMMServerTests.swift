import DstackAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import Testing
@testable import VMMServer

struct RPCReply: Sendable {
    let status: HTTPResponse.Status
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var error: VMMErrorBody? { try? JSONDecoder().decode(VMMErrorBody.self, from: Data(body)) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: Data(body)) }
}

extension TestClientProtocol {
    func rpc(_ method: VMMMethod, raw: String) async throws -> RPCReply {
        let r = try await execute(uri: method.path, method: .post, headers: [.contentType: "application/json"],
                                  body: ByteBuffer(string: raw))
        return RPCReply(status: r.status, body: Array(r.body.readableBytesView))
    }

    func rpc<B: Encodable>(_ method: VMMMethod, _ body: B) async throws -> RPCReply {
        try await rpc(method, raw: String(decoding: try JSONEncoder().encode(body), as: UTF8.self))
    }
}

/// Runs `body` against a VMM router (in-memory transport) over a temporary state dir.
func withVMM(_ body: @escaping @Sendable (any TestClientProtocol, LocalVMM) async throws -> Void) async throws {
    let tmp = try TempDir("vmm")
    defer { tmp.cleanup() }
    let vmm = LocalVMM(stateDirectory: tmp.url)
    let app = Application(router: makeVMMRouter(vmm: vmm))
    do {
        try await app.test(.router) { client in try await body(client, vmm) }
    } catch {
        await vmm.shutdown()
        throw error
    }
    await vmm.shutdown()
}

func vmConfig(_ compose: String, name: String = "test-vm", ports: [PortMapping] = [], stopped: Bool? = true) -> VmConfiguration {
    VmConfiguration(name: name, image: "dstack-0.5.2", composeFile: compose, vcpu: 1, memory: 256, diskSize: 1,
                    ports: ports, stopped: stopped)
}

func shellCompose(_ command: String) -> String {
    "services:\n  main:\n    command: \(command)\n"
}

@Suite("VMM server")
struct VMMServerTests {
    @Test("malformed bodies are 400 with an error field")
    func malformed() async throws {
        try await withVMM { client, _ in
            let notJSON = try await client.rpc(.createVm, raw: "{nope")
            #expect(notJSON.status == .badRequest)
            #expect(notJSON.error?.code == "invalid_request")
            #expect(notJSON.error?.error?.isEmpty == false)
            let missing = try await client.rpc(.createVm, raw: #"{"name": "x"}"#)
            #expect(missing.status == .badRequest)
            #expect(missing.error?.message.contains("compose_file") == true)
            let emptyId = try await client.rpc(.startVm, raw: "{}")
            #expect(emptyId.status == .badRequest)
        }
    }

    @Test("CreateVm validation: compose, name, ports")
    func createValidation() async throws {
        try await withVMM { client, _ in
            let noServices = try await client.rpc(.createVm, vmConfig("version: '3'\n"))
            #expect(noServices.status == .badRequest)
            #expect(noServices.error?.code == "invalid_compose")
            let imageOnly = try await client.rpc(.createVm, vmConfig("services:\n  web:\n    image: nginx\n"))
            #expect(imageOnly.error?.code == "invalid_compose")
            #expect(imageOnly.error?.message.contains("no command or entrypoint") == true)
            let badJSON = try await client.rpc(.createVm, vmConfig(#"{"manifest_version": 2}"#))
            #expect(badJSON.error?.code == "invalid_compose")
            let badName = try await client.rpc(.createVm, vmConfig(shellCompose("sleep 1"), name: "bad/name"))
            #expect(badName.error?.code == "invalid_name")
            let badProto = try await client.rpc(.createVm, vmConfig(shellCompose("sleep 1"),
                                                                    ports: [PortMapping(protocol: "sctp", hostPort: 1, vmPort: 1)]))
            #expect(badProto.error?.code == "invalid_port")
            let ok = try await client.rpc(.createVm, vmConfig(shellCompose("sleep 1"), ports: [PortMapping(hostPort: 40001, vmPort: 80)]))
            #expect(ok.status == .ok)
            let clash = try await client.rpc(.createVm, vmConfig(shellCompose("sleep 1"), name: "other",
                                                                 ports: [PortMapping(hostPort: 40001, vmPort: 80)]))
            #expect(clash.error?.code == "port_conflict")
        }
    }

    @Test("unknown ids: GetInfo says found=false, the others fail")
    func unknownIds() async throws {
        try await withVMM { client, _ in
            let info = try await client.rpc(.getInfo, VmId(id: "missing"))
            #expect(info.status == .ok)
            #expect(try info.decode(GetInfoResponse.self) == GetInfoResponse(found: false))
            for m in [VMMMethod.startVm, .stopVm, .removeVm, .shutdownVm] {
                let r = try await client.rpc(m, VmId(id: "missing"))
                #expect(r.status == .badRequest, "\(m)")
                #expect(r.error?.code == "vm_not_found")
                #expect(r.error?.error == "VM not found: missing")
            }
            let logs = try await client.execute(uri: "/logs?id=missing", method: .get)
            #expect(logs.status == .notFound)
            let noRoute = try await client.rpc(.createVm, raw: "{}")
            #expect(noRoute.status == .badRequest)
        }
    }

    @Test("lifecycle: create stopped → start → running → stop → remove")
    func lifecycle() async throws {
        try await withVMM { client, _ in
            let compose = """
                services:
                  main:
                    working_dir: /work
                    command: ["/bin/sh", "-c", "echo started $GREETING $PORT $EVALNET_PORT_8080; pwd; sleep 60"]
                    environment:
                      - GREETING=hello
                """
            let created = try await client.rpc(.createVm, vmConfig(compose, ports: [PortMapping(hostPort: 41234, vmPort: 8080)]))
            let id = try created.decode(VmId.self).id
            var info = try #require(try await client.rpc(.getInfo, VmId(id: id)).decode(GetInfoResponse.self).info)
            #expect(info.status == "stopped")
            #expect(info.configuration?.ports.first?.hostPort == 41234)
            #expect(try await client.rpc(.startVm, VmId(id: id)).status == .ok)
            info = try #require(try await client.rpc(.getInfo, VmId(id: id)).decode(GetInfoResponse.self).info)
            #expect(info.status == "running")
            let again = try await client.rpc(.startVm, VmId(id: id))
            #expect(again.error?.code == "vm_running")
            let removeRunning = try await client.rpc(.removeVm, VmId(id: id))
            #expect(removeRunning.status == .badRequest)
            #expect(removeRunning.error?.error == "VM is running, stop it first")
            #expect(await eventually {
                let r = try? await client.execute(uri: "/logs?id=\(id)&lines=10", method: .get)
                return r.map { String(buffer: $0.body).contains("started hello 41234 41234") } ?? false
            })
            let log = try await client.execute(uri: "/logs?id=\(id)&lines=10", method: .get)
            #expect(String(buffer: log.body).contains("/work"))
            let list = try await client.rpc(.listVms, StatusRequest()).decode(StatusResponse.self)
            #expect(list.vms.map(\.id) == [id])
            #expect(try await client.rpc(.status, StatusRequest(keyword: "nomatch")).decode(StatusResponse.self).total == 0)
            #expect(try await client.rpc(.stopVm, VmId(id: id)).status == .ok)
            info = try #require(try await client.rpc(.getInfo, VmId(id: id)).decode(GetInfoResponse.self).info)
            #expect(info.status == "stopped")
            #expect(try await client.rpc(.removeVm, VmId(id: id)).status == .ok)
            #expect(try await client.rpc(.getInfo, VmId(id: id)).decode(GetInfoResponse.self) == GetInfoResponse(found: false))
        }
    }

    @Test("a VM whose process ends reports exited with its exit code; CreateVm without stopped starts it")
    func exitedVM() async throws {
        try await withVMM { client, _ in
            let created = try await client.rpc(.createVm, vmConfig(shellCompose("\"echo bye; exit 3\""), stopped: nil))
            let id = try created.decode(VmId.self).id
            var info: VmInfo?
            #expect(await eventually {
                info = try? await client.rpc(.getInfo, VmId(id: id)).decode(GetInfoResponse.self).info
                return info?.status == "exited"
            })
            #expect(info?.exitCode == 3)
            #expect(try await client.rpc(.removeVm, VmId(id: id)).status == .ok)
        }
    }

    @Test("StopVm kills the whole process group")
    func stopKillsGroup() async throws {
        let tmp = try TempDir("vmm-pid")
        defer { tmp.cleanup() }
        let pidFile = tmp.sub("pid").path
        try await withVMM { client, _ in
            let compose = shellCompose("\"echo $$ > \(pidFile); sleep 60 & sleep 60 & wait\"")
            let id = try await client.rpc(.createVm, vmConfig(compose, stopped: false)).decode(VmId.self).id
            #expect(await eventually { readPid(URL(fileURLWithPath: pidFile)) != nil })
            let pgid = try #require(readPid(URL(fileURLWithPath: pidFile)))
            #expect(!groupIsGone(pgid))
            #expect(try await client.rpc(.stopVm, VmId(id: id)).status == .ok)
            #expect(groupIsGone(pgid))
        }
    }

    @Test("CreateVm runs a compose file that uses anchors and merge keys")
    func anchoredComposeRuns() async throws {
        try await withVMM { client, _ in
            let created = try await client.rpc(.createVm, vmConfig(ComposeTests.anchoredCompose, stopped: false))
            #expect(created.status == .ok, "\(created.text)")
            let id = try created.decode(VmId.self).id
            #expect(await eventually {
                let r = try? await client.execute(uri: "/logs?id=\(id)&lines=10", method: .get)
                return r.map { String(buffer: $0.body).contains("merged hello 0123") } ?? false
            })
            let log = try await client.execute(uri: "/logs?id=\(id)&lines=10", method: .get)
            #expect(String(buffer: log.body).contains("/srv"))
            #expect(try await client.rpc(.stopVm, VmId(id: id)).status == .ok)
            #expect(try await client.rpc(.removeVm, VmId(id: id)).status == .ok)
        }
    }

    @Test("ListGpus lists none and CreateVm with GPUs is refused with the reason")
    func gpus() async throws {
        try await withVMM { client, _ in
            let listed = try await client.rpc(.listGpus, Empty()).decode(ListGpusResponse.self)
            #expect(listed.gpus.isEmpty)
            var config = vmConfig(shellCompose("\"sleep 1\""))
            config.gpus = GpuConfig(attachMode: "listed", gpus: [GpuConfig.Slot(slot: "18:00.0")])
            let refused = try await client.rpc(.createVm, config)
            #expect(refused.status == .badRequest)
            #expect(refused.error?.code == "no_gpus")
            #expect(refused.error?.error?.contains("18:00.0") == true)
        }
    }

    @Test("Version and the service basics answer")
    func basics() async throws {
        try await withVMM { client, _ in
            let v = try await client.rpc(.version, Empty()).decode(VersionResponse.self)
            #expect(v.version.hasPrefix("evalnet-local-vmm"))
            let docs = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(docs.status == .ok)
        }
    }
}

@Suite("Compose files")
struct ComposeTests {
    @Test("the YAML reader (Yams) handles the compose syntax")
    func yaml() throws {
        let doc = try ComposeYAML.parse("""
            ---
            # comment
            services:
              app:   # trailing comment
                command: ["python3", 'x.py', "--flag=#1"]
                environment:
                  A: "quoted: value"
                  B: plain text
                  C:
                list:
                - one
                - two: 2
                  three: 3
                script: |
                  line 1
                    indented

                  after blank
                folded: >-
                  a
                  b
                flow: {k: v, n: [1, 2]}
            """)
        let app = try #require(doc["services"]?["app"])
        #expect(app["command"] == .sequence([.scalar("python3"), .scalar("x.py"), .scalar("--flag=#1")]))
        #expect(app["environment"]?["A"] == .scalar("quoted: value"))
        #expect(app["environment"]?["B"] == .scalar("plain text"))
        #expect(app["environment"]?["C"] == .null)
        #expect(app["list"] == .sequence([.scalar("one"), .mapping([("two", .scalar("2")), ("three", .scalar("3"))])]))
        #expect(app["script"] == .scalar("line 1\n  indented\n\nafter blank\n"))
        #expect(app["folded"] == .scalar("a b"))
        #expect(app["flow"] == .mapping([("k", .scalar("v")), ("n", .sequence([.scalar("1"), .scalar("2")]))]))
        #expect(throws: YAMLError.self) { try ComposeYAML.parse("a: 1\n  b: 2\n") }
        #expect(throws: YAMLError.self) { try ComposeYAML.parse("a: \"unterminated\n") }
        #expect(throws: YAMLError.self) { try ComposeYAML.parse("a: 1\n---\nb: 2\n") }
        #expect(throws: YAMLError.self) { try ComposeYAML.parse("a: *undefined\n") }
    }

    /// A compose file as real projects write them: an `x-` extension block with an anchor,
    /// merged into the service (`<<: *base`) with one key overridden, an aliased list,
    /// a multi-source merge and tags.
    static let anchoredCompose = """
        x-env: &env
          GREETING: hello
          PORT_NAME: main
        x-base: &base
          working_dir: /srv
          environment: *env
          command: ["/bin/sh", "-c", "echo base"]
        x-extra: &extra
          working_dir: /ignored
          labels: {tier: eval}
        services:
          main:
            <<: [*base, *extra]
            command: !!seq ["/bin/sh", "-c", "echo merged $GREETING $TAGGED; pwd; sleep 60"]
            environment:
              <<: *env
              TAGGED: !!str 0123
              PORT_NAME: !reset null
        """

    @Test("anchors, aliases, merge keys and tags are resolved")
    func anchorsAndMergeKeys() throws {
        let doc = try ComposeYAML.parse(Self.anchoredCompose)
        let main = try #require(doc["services"]?["main"])
        // Explicit keys win over merged ones; the first merged source wins over later ones.
        #expect(main["working_dir"] == .scalar("/srv"))
        #expect(main["labels"]?["tier"] == .scalar("eval"))
        #expect(main["command"]?.string == nil)
        // `!!str` keeps the text as written; `!reset` drops a merged key.
        #expect(main["environment"] == .mapping([("TAGGED", .scalar("0123")), ("GREETING", .scalar("hello"))]))
        let launch = try ComposeLaunch.parse(composeFile: Self.anchoredCompose)
        #expect(launch.serviceName == "main")
        #expect(launch.argv == ["/bin/sh", "-c", "echo merged $GREETING $TAGGED; pwd; sleep 60"])
        #expect(launch.workingDir == "srv")
        #expect(launch.environment == ["GREETING": "hello", "TAGGED": "0123"])
        #expect(throws: ComposeLaunch.Invalid.self) {
            try ComposeLaunch.parse(composeFile: "x: &a 1\nservices:\n  s:\n    <<: *a\n    command: x\n")
        }
    }

    @Test("the example compose carries evaluator.py verbatim and runs it as an HTTP service")
    func exampleCompose() throws {
        let launch = try ComposeLaunch.parse(composeFile: try Example.file("compose.yaml"))
        #expect(launch.serviceName == "evaluator")
        #expect(launch.argv == ["python3", "evaluator.py", "--serve"])
        #expect(launch.workingDir == "app")
        #expect(launch.environment["PORT"] == "8080")
        #expect(launch.files["app/evaluator.py"] == (try Example.file("evaluator.py")))
    }

    @Test("app-compose JSON is unwrapped; entrypoint and command combine")
    func appCompose() throws {
        let yaml = "services:\n  s:\n    entrypoint: [\"/bin/sh\", \"-c\"]\n    command: [\"echo hi\"]\n"
        let json = try AppCompose(name: "x", dockerComposeFile: yaml).jsonString()
        let launch = try ComposeLaunch.parse(composeFile: json)
        #expect(launch.argv == ["/bin/sh", "-c", "echo hi"])
        #expect(throws: ComposeLaunch.Invalid.self) {
            try ComposeLaunch.parse(composeFile: "services:\n  s:\n    command: x\n    configs: [c]\nconfigs:\n  c:\n    file: ./c.txt\n")
        }
        #expect(throws: ComposeLaunch.Invalid.self) {
            try ComposeLaunch.parse(composeFile: "services:\n  s:\n    command: x\n    working_dir: ../../etc\n")
        }
    }
}
