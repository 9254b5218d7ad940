import Foundation
import ServiceKit
import Testing

/// Row identifiers are UUID version 7: valid UUID text, later times sort later, and no two
/// alike among many made in the same millisecond.
@Suite struct RecordIDTests {
    @Test func idsAreVersion7UUIDsThatSortByTime() throws {
        let base = 1_764_000_000.0
        var previous = ""
        for step in 0..<2_000 {
            let id = RecordID.make(at: base + Double(step) * 0.001)
            let uuid = try #require(UUID(uuidString: id))
            #expect(uuid.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7)
            #expect(bytes[8] >> 6 == 0b10)
            // The first 48 bits are the milliseconds.
            let millis = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            #expect(millis == UInt64((base * 1000).rounded()) + UInt64(step) || millis + 1 == UInt64((base * 1000).rounded()) + UInt64(step))
            #expect(id > previous)
            previous = id
        }
    }

    @Test func manyInOneMillisecondAreDistinctAndOutOfRangeTimesAreClamped() {
        let ids = (0..<50_000).map { _ in RecordID.make(at: 1_764_000_000) }
        #expect(Set(ids).count == ids.count)
        for t in [-1.0, -.infinity, .nan, .infinity, 1e300] {
            #expect(UUID(uuidString: RecordID.make(at: t)) != nil)
        }
        #expect(RecordID.make(at: -5).hasPrefix("00000000-0000-7"))
        #expect(RecordID.make(at: 1e300).hasPrefix("ffffffff-ffff-7"))
    }
}
