import Foundation
import PoolCore
import Testing

@Suite struct ClaimMerkleTests {
    static func entry(_ i: Int, amount: UInt64 = 0) -> ClaimEntry {
        ClaimEntry(hotkey: "hk\(String(format: "%03d", i))", recipient: [UInt8](repeating: UInt8(i & 0xFF), count: 32),
                   amountRao: amount == 0 ? UInt64(1_000 + i) : amount)
    }

    @Test func blake2b256KnownAnswers() {
        #expect(ClaimMerkle.hex(ClaimMerkle.blake2b256([]))
            == "0x0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")
        #expect(ClaimMerkle.hex(ClaimMerkle.blake2b256(Array("abc".utf8)))
            == "0xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
    }

    @Test func leafEncodingIsScaleLittleEndian() {
        let recipient = (0..<32).map { UInt8($0) }
        let bytes = ClaimMerkle.leafEncoding(epoch: 0x0102_0304_0506_0708, index: 0x0A0B_0C0D, recipient: recipient,
                                             amount: 0x1122_3344_5566_7788)
        #expect(bytes.count == 52)
        #expect(Array(bytes[0..<8]) == [8, 7, 6, 5, 4, 3, 2, 1])
        #expect(Array(bytes[8..<12]) == [0x0D, 0x0C, 0x0B, 0x0A])
        #expect(Array(bytes[12..<44]) == recipient)
        #expect(Array(bytes[44..<52]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
    }

    @Test func everyProofVerifiesAndTamperingFails() throws {
        for n in 0...11 {
            // Given out of order: the tree sorts by hotkey.
            let tree = try ClaimTree(epoch: 7, entries: (0..<n).reversed().map { Self.entry($0) })
            #expect(tree.entries.map(\.hotkey) == (0..<n).map { Self.entry($0).hotkey })
            if n == 0 { #expect(tree.root == [UInt8](repeating: 0, count: 32)) }
            if n == 1 { #expect(tree.root == tree.leaves[0]) }
            for i in 0..<n {
                let e = tree.entries[i]
                let leaf = ClaimMerkle.leafHash(epoch: 7, index: UInt32(i), recipient: e.recipient, amount: e.amountRao)
                #expect(leaf == tree.leaves[i])
                let proof = tree.proof(at: i)
                #expect(ClaimMerkle.verify(leaf: leaf, proof: proof, root: tree.root), "n=\(n) i=\(i)")
                // Another amount, index or epoch does not verify.
                let more = ClaimMerkle.leafHash(epoch: 7, index: UInt32(i), recipient: e.recipient, amount: e.amountRao + 1)
                #expect(!ClaimMerkle.verify(leaf: more, proof: proof, root: tree.root))
                let moved = ClaimMerkle.leafHash(epoch: 7, index: UInt32(i + 1), recipient: e.recipient, amount: e.amountRao)
                #expect(!ClaimMerkle.verify(leaf: moved, proof: proof, root: tree.root))
                let epoch = ClaimMerkle.leafHash(epoch: 8, index: UInt32(i), recipient: e.recipient, amount: e.amountRao)
                #expect(!ClaimMerkle.verify(leaf: epoch, proof: proof, root: tree.root))
            }
        }
    }

    @Test func threeLeavesCarryTheOddOneUp() throws {
        let tree = try ClaimTree(epoch: 1, entries: (0..<3).map { Self.entry($0) })
        let l = tree.leaves
        let expected = ClaimMerkle.parent(ClaimMerkle.parent(l[0], l[1]), l[2])
        #expect(tree.root == expected)
        #expect(tree.proof(at: 2) == [ClaimMerkle.parent(l[0], l[1])])
        #expect(tree.proof(at: 0) == [l[1], l[2]])
        // Sorted pairs: the order of the children does not matter.
        #expect(ClaimMerkle.parent(l[0], l[1]) == ClaimMerkle.parent(l[1], l[0]))
    }

    @Test func refusesBadRecipientsAndDuplicates() {
        #expect(throws: ClaimMerkleError.badRecipientLength(hotkey: "a", length: 3)) {
            try ClaimTree(epoch: 1, entries: [ClaimEntry(hotkey: "a", recipient: [1, 2, 3], amountRao: 1)])
        }
        #expect(throws: ClaimMerkleError.duplicateHotkey("hk001")) {
            try ClaimTree(epoch: 1, entries: [Self.entry(1), Self.entry(1)])
        }
    }

    @Test func hexRoundTrips() {
        let bytes: [UInt8] = [0, 1, 0xAB, 0xFF]
        #expect(ClaimMerkle.hex(bytes) == "0x0001abff")
        #expect(ClaimMerkle.unhex("0x0001ABff") == bytes)
        #expect(ClaimMerkle.unhex("0001abff") == bytes)
        #expect(ClaimMerkle.unhex("0x0") == nil && ClaimMerkle.unhex("zz") == nil)
    }
}
