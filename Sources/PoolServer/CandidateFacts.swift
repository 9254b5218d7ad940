import Store
import Synchronization

/// What a submit needs before its transaction to decide which of its candidates the pool
/// scores on its held-out tasks there (outside any lock): each candidate's program — task
/// type, input dimension, DSL and its hash, which never change — kept when this process picks
/// it for a lease, whether this process has seen it settled, and the highest SOTA consensus
/// score this process has seen per task type (a SOTA only rises). All of it is advice: a
/// candidate this process did not hand out (another replica did) or a task whose SOTA it has
/// not seen sends the submit to the database read, and a candidate that turns out to need its
/// held-out score after all is scored in the transaction against the SOTA read there.
final class CandidateFacts: Sendable {
    struct Program: Sendable, Equatable {
        var taskType: String
        var inputDim: Int
        var dsl: String
        var dslHash: String
        /// Seen reaching consensus here: no held-out score is computed ahead for it again.
        var settled = false

        init(taskType: String, inputDim: Int, dsl: String, dslHash: String) {
            self.taskType = taskType
            self.inputDim = inputDim
            self.dsl = dsl
            self.dslHash = dslHash
        }

        /// The program of an `algorithms` row (its `task_type`, `input_dim`, `dsl`, `dsl_hash`).
        init(row: SQLRow) throws {
            self.init(taskType: try row.string("task_type"), inputDim: Int(try row.int("input_dim")), dsl: try row.string("dsl"),
                      dslHash: try row.string("dsl_hash"))
        }
    }

    private struct State {
        var programs: [Int64: Program] = [:]
        var sota: [String: Double] = [:]
    }

    private let state = Mutex(State())
    /// Programs kept at most; past this the table starts over (misses read the database).
    static let limit = 100_000

    func remember(_ id: Int64, _ program: Program) {
        state.withLock { s in
            if s.programs.count >= Self.limit { s.programs.removeAll(keepingCapacity: true) }
            if s.programs[id] == nil { s.programs[id] = program }
        }
    }

    func settled(_ ids: some Sequence<Int64>) {
        state.withLock { s in
            for id in ids { s.programs[id]?.settled = true }
        }
    }

    /// The programs of `ids` when every one is known, else nil.
    func programs(_ ids: [Int64]) -> [Int64: Program]? {
        state.withLock { s in
            var out: [Int64: Program] = [:]
            for id in ids {
                guard let p = s.programs[id] else { return nil }
                out[id] = p
            }
            return out
        }
    }

    /// Records a SOTA consensus score seen for `taskType` (nil: the task has none yet).
    func sawSOTA(_ taskType: String, _ score: Double?) {
        let seen = score ?? -.infinity
        state.withLock { s in s.sota[taskType] = max(s.sota[taskType] ?? -.infinity, seen) }
    }

    /// The highest SOTA consensus score seen for `taskType`: `.some(nil)` when it had none,
    /// nil when nothing was seen.
    func sota(_ taskType: String) -> Double?? {
        state.withLock { s in s.sota[taskType].map { $0 == -.infinity ? nil : $0 } }
    }
}
