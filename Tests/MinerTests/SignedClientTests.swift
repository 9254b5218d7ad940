import Foundation
import NIOCore
import NIOHTTP1
import SignedClient
import Testing

@Suite("Signed JSON client")
struct SignedClientTests {
    @Test func queryValuesArePercentEncodedAndNilsLeftOut() {
        #expect(queryString([("task_type", "a b&c=d"), ("limit", "5"), ("missing", nil)]) == "?task_type=a%20b%26c%3Dd&limit=5")
        #expect(queryString([("only", nil)]) == "")
        #expect(queryString([("q", "x+y?#/")]) == "?q=x%2By%3F%23/")
    }

    func reply(_ status: Int, _ text: String, headers: HTTPHeaders = [:]) -> JSONReply {
        JSONReply(status: status, headers: headers, body: ByteBuffer(string: text))
    }

    @Test func errorsAreReadFromOurBodyFastAPIsBodyOrTheRawText() {
        let ours = reply(409, #"{"detail":"taken","code":"job_already_claimed"}"#).failure
        #expect(ours.code == "job_already_claimed" && ours.detail == "taken")
        let fastAPI = reply(400, #"{"detail":"Miner already has active task"}"#).failure
        #expect(fastAPI.code == "http_400" && fastAPI.detail == "Miner already has active task")
        let raw = reply(502, "Bad Gateway").failure
        #expect(raw.code == "http_502" && raw.detail == "Bad Gateway")
        #expect(reply(503, "", headers: ["Retry-After": "7"]).retryAfterSeconds == 7)
        #expect(reply(503, "").retryAfterSeconds == nil)
    }

    @Test func nonFiniteNumbersRoundTripAsPythonWritesThem() throws {
        let data = try JSONCoding.encoder.encode([-Double.infinity, .nan, 1.5])
        #expect(String(decoding: data, as: UTF8.self) == #"["-Infinity","NaN",1.5]"#)
        let back = try reply(200, String(decoding: data, as: UTF8.self)).decode([Double].self)
        #expect(back[0] == -.infinity && back[1].isNaN && back[2] == 1.5)
    }
}
