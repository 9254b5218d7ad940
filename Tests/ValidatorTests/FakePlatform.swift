import Foundation
import Hotkeys
import Hummingbird
import HummingbirdTesting
import PlatformAPI
import ServiceKit
import Testing
@testable import Validator

/// What a fake Platform API holds and has been told: enough of the validator API
/// (`/challenges/active`, `/jobs/pending`, the claim of the oldest pending job, start, results,
/// ORM query) to drive the validator's real job loop over loopback HTTP. No signature checks: the tests look at
/// what the validator sends, not at the platform's security.
actor FakePlatformState {
    var challenges: [ActiveChallenge] = []
    var pending: [PendingJob] = []
    var code: [String: String] = [:]
    private(set) var claimed: [String] = []
    private(set) var started: [String] = []
    private(set) var results: [String: JobResultRequest] = [:]
    private(set) var hotkeys: Set<String> = []
    private(set) var queries: [OrmQueryRequest] = []

    func addChallenge(_ c: ActiveChallenge) { challenges.append(c) }

    func addJob(_ id: String, challenge: String, code text: String) {
        pending.append(PendingJob(id: id, challengeId: challenge, submissionId: "sub-\(id)", minerHotkey: "5Miner",
                                  status: "pending", createdAt: "2026-01-01T00:00:00Z"))
        code[id] = text
    }

    func saw(hotkey: String?) { if let hotkey { hotkeys.insert(hotkey) } }

    /// The oldest pending job (of `challenge` when given), claimed; nil when there is none.
    func claimNext(challenge: String?) -> ClaimResponse? {
        guard let i = pending.firstIndex(where: { challenge == nil || $0.challengeId == challenge }) else { return nil }
        let job = pending.remove(at: i)
        let id = job.id
        claimed.append(id)
        return ClaimResponse(id: id, challengeId: job.challengeId, submissionId: job.submissionId, status: "claimed",
                             minerHotkey: job.minerHotkey, claimExpiresAt: "2099-01-01T00:00:00Z", attempt: 1,
                             payload: SubmissionPayload(code: code[id]))
    }

    func start(_ id: String) { started.append(id) }
    func result(_ id: String, _ r: JobResultRequest) { results[id] = r }
    func query(_ q: OrmQueryRequest) { queries.append(q) }
}

/// Runs `body` with a fake platform listening on a loopback port.
func withFakePlatform(_ body: @escaping @Sendable (_ url: String, FakePlatformState) async throws -> Void) async throws {
    let state = FakePlatformState()
    let router = Router(context: BasicRequestContext.self)
    @Sendable func hotkey(_ request: Request) -> String? {
        request.header(PlatformHeaders.validatorHotkey)
    }
    router.get(RouterPath(PlatformPaths.activeChallenges)) { request, _ in
        await state.saw(hotkey: hotkey(request))
        return JSONResponse(ActiveChallengesResponse(challenges: await state.challenges))
    }
    router.get(RouterPath(PlatformPaths.pendingJobs)) { request, _ in
        await state.saw(hotkey: hotkey(request))
        return JSONResponse(PendingJobsResponse(jobs: await state.pending))
    }
    router.post(RouterPath(PlatformPaths.claimNext)) { request, context -> Response in
        await state.saw(hotkey: hotkey(request))
        let challenge = request.uri.queryParameters[Substring(PlatformQueryNames.challengeId)].map(String.init)
        guard let claim = await state.claimNext(challenge: challenge) else { return Response(status: .noContent) }
        return try JSONResponse(claim).response(from: request, context: context)
    }
    router.post("/jobs/:id/start") { _, context in
        let id = context.parameters.get("id") ?? ""
        await state.start(id)
        return Response(status: .noContent)
    }
    router.post("/jobs/:id/results") { request, context in
        let id = context.parameters.get("id") ?? ""
        let bytes = try await request.body.collect(upTo: 1 << 20)
        let result = try JSONDecoder().decode(JobResultRequest.self, from: Data(bytes.readableBytesView))
        await state.result(id, result)
        return Response(status: .noContent)
    }
    router.post("/challenges/:id/orm/query") { request, _ in
        await state.saw(hotkey: hotkey(request))
        let bytes = try await request.body.collect(upTo: 1 << 20)
        let q = try JSONDecoder().decode(OrmQueryRequest.self, from: Data(bytes.readableBytesView))
        await state.query(q)
        return JSONResponse(OrmQueryResponse(rows: [["n": .number(1)]], rowCount: 1, truncated: false))
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in
        let port = try #require(client.port)
        try await body("http://127.0.0.1:\(port)", state)
    }
}

/// A challenge repository whose evaluator is a shell script: a submission "reject" is
/// refused (exit 2 with an error), "sleep" writes the evaluator's pid to `pidFile` and
/// sleeps (with a child) until killed, anything else scores 0.5.
struct ScriptChallenge {
    let spec: ActiveChallenge

    init(in tmp: TempDir, id: String = "script", pidFile: URL) throws {
        let repo = try TestRepo(at: tmp.sub("repo-\(id)"))
        let compose = "services:\n  evaluator:\n    command: [\"/bin/sh\", \"eval.sh\"]\n"
        let script = """
            #!/bin/sh
            submission=$(cat "$1")
            case "$submission" in
              reject) printf '{"score": 0, "error": "no predict function"}' > "$2"; exit 2 ;;
              sleep) echo $$ > \(pidFile.path); sleep 600 & wait ;;
              *) printf '{"score": 0.5}' > "$2" ;;
            esac
            """
        let toml = """
            [evaluator]
            command = ["/bin/sh", "{challenge_dir}/eval.sh", "{submission}", "{output}"]
            submission_filename = "submission.txt"
            timeout_s = 600

            [resources]
            cpu_cores = 1
            memory_mb = 256
            disk_mb = 64
            """
        let commit = try repo.commit(["compose.yaml": compose, "eval.sh": script, "evalnet.toml": toml])
        spec = ActiveChallenge(id: id, name: id, status: "active", githubRepo: repo.dir.path, githubCommit: commit,
                               composeHash: sha256Hex(Array(compose.utf8)), mechanismId: 0, emissionShare: 0.5)
    }
}
