/// Seed algorithms a fresh pool ships so miners have work before anyone has evolved anything.
/// Every seed is returned in canonical, profile-normalised form.

/// Named seed programs (`name`, canonical DSL) for a task type; empty for unknown task types.
public func namedSeedAlgorithms(taskType: String, inputDim: Int = 16) -> [(name: String, dsl: String)] {
    guard ComplianceProfile.supportedTaskTypes.contains(taskType) else { return [] }
    let profile = ComplianceProfile.for(taskType: taskType, inputDim: inputDim)
    let bodies: [(String, String)]
    switch taskType {
    case "scalar_linear":
        bodies = [
            ("lms_sgd", """
            # setup
            s2 = 0.05
            # predict
            s0 = dot(v1, v0)
            # learn
            s3 = s1 - s0
            s3 = s3 * s2
            v2 = s3 * v0
            v1 = v1 + v2
            """),
            ("lms_sgd_slow", """
            # setup
            s2 = 0.02
            # predict
            s0 = dot(v1, v0)
            # learn
            s3 = s1 - s0
            s3 = s3 * s2
            v2 = s3 * v0
            v1 = v1 + v2
            """),
            ("hebbian_correlation", """
            # setup
            s2 = 0.01
            # predict
            s0 = dot(v1, v0)
            # learn
            v2 = s1 * v0
            v2 = s2 * v2
            v1 = v1 + v2
            """),
            ("zero_baseline", """
            # predict
            s0 = s2 * s3
            """),
        ]
    default:
        bodies = [
            ("perceptron", """
            # setup
            s3 = 0.05
            # predict
            s4 = dot(v1, v0)
            s0 = heaviside(s4)
            # learn
            s4 = s1 - s0
            s4 = s4 * s3
            v3 = s4 * v0
            v1 = v1 + v3
            """),
            ("lms_with_bias", """
            # setup
            s3 = 0.01
            s2 = 0.5
            # predict
            s4 = dot(v1, v0)
            s0 = s4 + s2
            # learn
            s4 = s1 - s0
            s4 = s4 * s3
            v3 = s4 * v0
            v1 = v1 + v3
            s2 = s2 + s4
            """),
            ("random_features_lms", """
            # setup
            m1 = gaussian(0.0, 0.5)
            s3 = 0.01
            s2 = 0.5
            # predict
            v2 = matmul(m1, v0)
            v2 = heaviside(v2)
            s4 = dot(v1, v2)
            s0 = s4 + s2
            # learn
            s4 = s1 - s0
            s4 = s4 * s3
            v3 = s4 * v2
            v1 = v1 + v3
            s2 = s2 + s4
            """),
            ("random_projection_threshold", """
            # setup
            m1 = gaussian(0.0, 0.1)
            # predict
            v2 = matmul(m1, v0)
            s4 = mean(v2)
            s0 = heaviside(s4)
            """),
        ]
    }
    let metaLine = Renderer.metaLine(profile.meta)
    var result: [(name: String, dsl: String)] = []
    for (name, body) in bodies {
        guard let program = try? DSLParser.parse(metaLine + "\n" + body, strict: true) else { continue }
        result.append((name, normalize(program, profile: profile).render()))
    }
    return result
}

/// At least three valid, compliant seed programs for each supported task type.
public func seedAlgorithms(taskType: String, inputDim: Int = 16) -> [String] {
    namedSeedAlgorithms(taskType: taskType, inputDim: inputDim).map(\.dsl)
}
