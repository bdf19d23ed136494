import Foundation

/// Decimal numbers read from text bytes without making a `String`: CSV fields of batch jobs and data validation, and
/// the online feature store's stored values.
public enum DecimalText {
    /// 10^k for k in 0...22, each exact. A switch of constants, which the compiler makes a table in the binary: a
    /// `static let` array cost a `swift_once` call per number parsed (1% of a batch job's CPU, perf).
    @inlinable @inline(__always)
    static func power(_ k: Int) -> Double {
        switch k {
        case 0: 1e0
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        case 19: 1e19
        case 20: 1e20
        case 21: 1e21
        default: 1e22
        }
    }

    /// A number as a field may spell it, decimal and finite: `parse`'s value, else Swift's reading of the text (a
    /// decimal `parse` leaves to it), but never a hexadecimal one (`0x1A`, `0x1p4`, which C and Swift both read, and
    /// a V1 request refuses) nor an infinite one: nil then.
    public static func finite(_ s: UnsafeBufferPointer<UInt8>) -> Double? {
        if let d = parse(s) { return d }
        guard !s.contains(where: { $0 | 0x20 == 0x78 }), let d = Double(String(decoding: s, as: UTF8.self)), d.isFinite else { return nil }
        return d
    }

    /// A decimal (`-12.5`, `3`, `.25`, `1e-3`), correctly rounded: exactly by one multiplication or division when its
    /// digits fit in 2^53 and its power of ten in ±22 (Clinger's fast path), else in 80 bits when that cannot round
    /// wrong, else by the C library's strtod; nil when the bytes are not a finite number (`nan`, `inf` and text
    /// are the caller's to read).
    @inlinable
    public static func parse(_ s: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = s.count
        guard n > 0, n < 40 else { return n == 0 ? nil : strtod(s) }
        var negative = false
        if s[0] == 0x2D || s[0] == 0x2B {
            negative = s[0] == 0x2D
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var seen = digitRun(s, &i, &mantissa, &digits)
        if i < n, s[i] == 0x2E {
            i += 1
            let fraction = digitRun(s, &i, &mantissa, &digits)
            scale -= fraction
            seen += fraction
        }
        guard seen > 0, digits <= 19 else { return n < 40 ? strtod(s) : nil }
        if i < n, s[i] == 0x65 || s[i] == 0x45 {
            i += 1
            var exponentNegative = false
            if i < n, s[i] == 0x2D || s[i] == 0x2B {
                exponentNegative = s[i] == 0x2D
                i += 1
            }
            var exponent = 0
            var exponentDigits = 0
            while i < n, s[i] &- 0x30 < 10, exponentDigits < 4 {
                exponent = exponent * 10 + Int(s[i] &- 0x30)
                exponentDigits += 1
                i += 1
            }
            guard exponentDigits > 0 else { return strtod(s) }
            scale += exponentNegative ? -exponent : exponent
        }
        guard i == n else { return strtod(s) }
        // Clinger's fast path: the mantissa and 10^|scale| are exact doubles, so one operation rounds once.
        if digits <= 19, mantissa <= 1 << 53, scale >= -22, scale <= 22 {
            var value = Double(mantissa)
            value = scale < 0 ? value / power(-scale) : value * power(scale)
            return negative ? -value : value
        }
        #if arch(x86_64)
        // Up to 19 digits: the mantissa and 10^|scale| (|scale| <= 27) are exact in Float80, so one operation
        // rounds once to 64 bits; rounding that to 53 bits is correct unless it lies on a halfway point.
        if digits <= 19, scale >= -27, scale <= 27 {
            let exact = scale < 0 ? Float80(mantissa) / power80(-scale) : Float80(mantissa) * power80(scale)
            let low = exact.significandBitPattern & 0x7FF
            if low < 0x3FF || low > 0x401 {
                let value = Double(exact)
                return negative ? -value : value
            }
        }
        #endif
        return strtod(s)
    }

    /// Whether the field `line[start..<end]` is a plain number: an optional `-`, then 1 to `digits` bytes (at most
    /// 16), digits and, when `dot` is true, at most one dot, neither first nor last. Checked eight bytes at a time, reading
    /// only the line's bytes before `end`, which must be at least 8 (every field but a line's first). False means
    /// only "not known plain" (longer, an exponent, anything else): the caller then checks the field byte by byte.
    @inlinable @inline(__always)
    public static func isPlain(_ line: UnsafePointer<UInt8>, _ start: Int, _ end: Int, dot: Bool, digits: Int = 16) -> Bool {
        let s = start < end && line[start] == 0x2D ? start + 1 : start
        let m = end - s
        guard m >= 1, m <= min(digits, 16), end >= 8 else { return false }
        // The high bit of each byte that is not a digit: after `^ 0x30` a digit is 0...9, whose low nibble plus 6
        // does not carry into the high nibble, which must be 0 (no sum carries out of its byte).
        @inline(__always) func odd(_ w: UInt64) -> UInt64 {
            let x = w ^ 0x3030_3030_3030_3030
            let t = ((x & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0606_0606_0606) | x
            return (((t >> 4) & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080
        }
        // The high bit of each byte that is a dot, and nothing else.
        @inline(__always) func dots(_ w: UInt64) -> UInt64 {
            let x = w ^ 0x2E2E_2E2E_2E2E_2E2E
            return ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
        }
        // At most one byte not a digit, a dot, and not on the bits of `edges` (the field's first and last bytes).
        @inline(__always) func oneDot(_ w: UInt64, _ bad: UInt64, edges: UInt64) -> Bool {
            bad & (bad &- 1) == 0 && dots(w) & bad == bad && bad & edges == 0
        }
        let high = UnsafeRawPointer(line + end - 8).loadUnaligned(as: UInt64.self)
        if m <= 8 {
            // The field is the top m bytes of the eight that end it.
            let first = UInt64(1) << UInt64(71 - 8 * m)
            let bad = odd(high) & ~(first &- 1)
            if bad == 0 { return true }
            return dot && oneDot(high, bad, edges: first | 1 << 63)
        }
        let low = UnsafeRawPointer(line + s).loadUnaligned(as: UInt64.self)
        let (badLow, badHigh) = (odd(low), odd(high))
        if badLow | badHigh == 0 { return true }
        guard dot, oneDot(low, badLow, edges: 0x80), oneDot(high, badHigh, edges: 1 << 63) else { return false }
        // The two words overlap when m < 16: a dot both see must be the same byte.
        return badLow == 0 || badHigh == 0 || s + badLow.trailingZeroBitCount >> 3 == end - 8 + badHigh.trailingZeroBitCount >> 3
    }

    /// The whole part of the plain decimal `line[start..<end]` (an optional `-`, then up to 24 digits with at most
    /// one dot, neither first nor last, and at most 15 digits before it, so the part is an exact double), and whether
    /// a fraction follows it. Checked eight bytes at a time, reading only the line's bytes before `end`, which must be
    /// at least 8. The value lies in [whole, whole + 1) (negated for a `-`), equal to `whole` without a fraction. Nil
    /// means only "not known plain": the caller then parses the field.
    @inlinable @inline(__always)
    public static func wholePart(_ line: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (whole: Double, negative: Bool, fraction: Bool)? {
        let negative = start < end && line[start] == 0x2D
        let s = negative ? start + 1 : start
        let m = end - s
        guard m >= 1, m <= 24, end >= 8 else { return nil }
        // The high bit of each byte that is not a digit (as in `isPlain`).
        @inline(__always) func odd(_ w: UInt64) -> UInt64 {
            let x = w ^ 0x3030_3030_3030_3030
            let t = ((x & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0606_0606_0606) | x
            return (((t >> 4) & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080
        }
        @inline(__always) func load(_ at: Int) -> UInt64 { UnsafeRawPointer(line + at).loadUnaligned(as: UInt64.self) }
        // Where the one byte that is not a digit is (-1: none); each word's bad bytes, seen at their places, must be
        // that one dot.
        var dot = -1
        @inline(__always) func note(_ bad: UInt64, at base: Int) -> Bool {
            if bad == 0 { return true }
            guard bad & (bad &- 1) == 0 else { return false }
            let place = base + bad.trailingZeroBitCount >> 3
            guard line[place] == 0x2E, dot == -1 || dot == place else { return false }
            dot = place
            return true
        }
        // The field is the top m bytes of the eight that end it, and (longer) the words from its start.
        let first = UInt64(1) << UInt64(71 - 8 * min(m, 8))
        guard note(odd(load(end - 8)) & ~(first &- 1), at: end - 8) else { return nil }
        if m > 8 {
            guard note(odd(load(s)), at: s) else { return nil }
            if m > 16 { guard note(odd(load(s + 8)), at: s + 8) else { return nil } }
        }
        let wholeEnd = dot >= 0 ? dot : end
        guard wholeEnd > s, wholeEnd < end - 1 || dot < 0, wholeEnd - s <= 15 else { return nil }
        var whole: UInt64 = 0
        for i in s..<wholeEnd { whole = whole &* 10 &+ UInt64(line[i] &- 0x30) }
        return (Double(whole), negative, dot >= 0)
    }

    /// A decimal integer (an optional `-`, then at most `digits` digits, no more than 19); nil for anything else or
    /// for a value outside Int64.
    @inlinable
    public static func integer(_ s: UnsafeBufferPointer<UInt8>, digits: Int = 19) -> Int64? {
        let negative = s.first == 0x2D
        var i = negative ? 1 : 0
        guard s.count > i, s.count - i <= min(digits, 19) else { return nil }
        var magnitude: UInt64 = 0   // 19 digits cannot overflow it
        // Eight digits at a time first (a card number or an id has ten or more), then one at a time.
        var significant = 0
        _ = digitRun(s, &i, &magnitude, &significant)
        while i < s.count {
            let d = s[i] &- 0x30
            guard d <= 9 else { return nil }
            magnitude = magnitude &* 10 &+ UInt64(d)
            i += 1
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// Reads the digits from `s[i]` on into `mantissa` (wrapping past 19 significant digits, which `digits` counts:
    /// leading zeros are not significant), eight at a time while eight are digits; returns how many it read.
    @inlinable @inline(__always)
    static func digitRun(_ s: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ mantissa: inout UInt64, _ digits: inout Int) -> Int {
        let start = i
        if let base = s.baseAddress {
            while i + 8 <= s.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                // Every byte 0x30...0x39: its high nibble is 3, and still 3 after adding 6.
                guard word & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030,
                      (word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030 else { break }
                // The first digit is the lowest byte: pairs, then fours, then the eight.
                var v = word &- 0x3030_3030_3030_3030
                if mantissa == 0 {
                    // Significant digits start at the first non-zero byte.
                    let nonzero = v == 0 ? 8 : v.trailingZeroBitCount >> 3
                    digits += 8 - nonzero
                } else {
                    digits += 8
                }
                v = (v &* 10 &+ (v >> 8)) & 0x00FF_00FF_00FF_00FF
                v = (v &* 100 &+ (v >> 16)) & 0x0000_FFFF_0000_FFFF
                v = (v &* 10_000 &+ (v >> 32)) & 0xFFFF_FFFF
                mantissa = mantissa &* 100_000_000 &+ v
                i += 8
            }
        }
        while i < s.count, s[i] &- 0x30 < 10 {
            if digits > 0 || s[i] != 0x30 { digits += 1 }
            mantissa = mantissa &* 10 &+ UInt64(s[i] &- 0x30)
            i += 1
        }
        return i - start
    }

    #if arch(x86_64)
    /// 10^k for k in 0...27, each exact in 80 bits (5^27 < 2^64): up to 10^22 the double is exact, and the product
    /// of two exact powers whose result fits is exact too.
    @inlinable @inline(__always)
    static func power80(_ k: Int) -> Float80 {
        k <= 22 ? Float80(power(k)) : Float80(power(22)) * Float80(power(k - 22))
    }
    #endif

    /// The C library's correctly rounded parse, for numbers too long for the fast paths; nil unless the whole
    /// field is a finite number.
    @usableFromInline
    static func strtod(_ s: UnsafeBufferPointer<UInt8>) -> Double? {
        // C reads hexadecimal too (`0x1A`, `0x1p4`); a decimal field never holds it.
        guard !s.contains(where: { $0 | 0x20 == 0x78 }) else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: s.count + 1) { text in
            for i in 0..<s.count { text[i] = CChar(bitPattern: s[i]) }
            text[s.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = Foundation.strtod(text.baseAddress!, &end)
            guard end == text.baseAddress! + s.count, value.isFinite else { return nil }
            return value
        }
    }
}
