import Foundation

/// The distribution functions drift statistics need, matching scipy's to well under 1e-12 where they matter.
public enum Statistics {
    /// `scipy.stats.chi2.sf(x, dof)`: the regularized upper incomplete gamma function Q(dof/2, x/2).
    public static func chiSquaredSurvival(_ x: Double, degreesOfFreedom dof: Int) -> Double {
        guard dof > 0 else { return .nan }
        guard x > 0 else { return 1 }
        return upperRegularizedGamma(Double(dof) / 2, x / 2)
    }

    /// Q(a, x) = Γ(a, x) / Γ(a): a power series for x < a + 1, a continued fraction (modified Lentz) otherwise.
    static func upperRegularizedGamma(_ a: Double, _ x: Double) -> Double {
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var sum = 1 / a
            var term = sum
            var n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return 1 - exp(logPrefix) * sum
        }
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(logPrefix) * h
    }

    /// `scipy.stats.kstwobign.sf(λ)`: the limiting Kolmogorov distribution's survival function,
    /// Q(λ) = 2 Σ (−1)^(k−1) e^(−2k²λ²); for small λ through its Jacobi-theta form 1 − √(2π)/λ Σ e^(−(2k−1)²π²/(8λ²)).
    public static func kolmogorovSurvival(_ lambda: Double) -> Double {
        guard lambda > 0 else { return 1 }
        if lambda < 1 {
            let factor = -Double.pi * Double.pi / (8 * lambda * lambda)
            var sum = 0.0
            for k in 1...100 {
                let odd = Double(2 * k - 1)
                let term = exp(odd * odd * factor)
                sum += term
                if term < 1e-20 * sum || term == 0 { break }
            }
            return 1 - (2 * Double.pi).squareRoot() / lambda * sum
        }
        var sum = 0.0
        var sign = 1.0
        for k in 1...100 {
            let kk = Double(k)
            let term = exp(-2 * kk * kk * lambda * lambda)
            sum += sign * term
            if term < 1e-20 * abs(sum) || term == 0 { break }
            sign = -sign
        }
        return max(0, min(1, 2 * sum))
    }

    /// `numpy.quantile(sorted, q)` with numpy's default ('linear') method, including its lerp rounding.
    public static func quantile(sorted a: [Double], _ q: Double) -> Double {
        precondition(!a.isEmpty)
        let h = q * Double(a.count - 1)
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, a.count - 1)
        let t = h - Double(lo)
        let x = a[lo]
        let y = a[hi]
        let diff = y - x
        return t >= 0.5 ? y - diff * (1 - t) : x + diff * t
    }

    /// Two-sample Kolmogorov–Smirnov statistic `max |F_r − F_c|` over sorted samples (`scipy.stats.ks_2samp`).
    public static func ksStatistic(sortedReference r: [Double], sortedCurrent c: [Double]) -> Double {
        guard !r.isEmpty, !c.isEmpty else { return .nan }
        var i = 0
        var j = 0
        var d = 0.0
        let n1 = Double(r.count)
        let n2 = Double(c.count)
        while i < r.count || j < c.count {
            let x = min(i < r.count ? r[i] : .infinity, j < c.count ? c[j] : .infinity)
            while i < r.count && r[i] <= x { i += 1 }
            while j < c.count && c[j] <= x { j += 1 }
            d = max(d, abs(Double(i) / n1 - Double(j) / n2))
        }
        return d
    }

    /// First Wasserstein distance between two 1-D samples (`scipy.stats.wasserstein_distance`).
    public static func wasserstein(sortedReference u: [Double], sortedCurrent v: [Double]) -> Double {
        guard !u.isEmpty, !v.isEmpty else { return .nan }
        // Walk the merged order of both samples: between consecutive values the two CDFs are constant.
        let nu = Double(u.count)
        let nv = Double(v.count)
        var total = 0.0
        var i = 0
        var j = 0
        var x = min(u[0], v[0])
        while i < u.count || j < v.count {
            while i < u.count && u[i] <= x { i += 1 }
            while j < v.count && v[j] <= x { j += 1 }
            guard i < u.count || j < v.count else { break }
            let next = min(i < u.count ? u[i] : .infinity, j < v.count ? v[j] : .infinity)
            total += abs(Double(i) / nu - Double(j) / nv) * (next - x)
            x = next
        }
        return total
    }

    /// Population stability index over bin proportions, each clipped below at `floor` (no renormalisation).
    public static func psi(reference: [Double], current: [Double], floor: Double = 1e-4) -> Double {
        zip(reference, current).reduce(0) { sum, pair in
            let r = max(pair.0, floor)
            let c = max(pair.1, floor)
            return sum + (c - r) * log(c / r)
        }
    }

    /// Jensen–Shannon distance in base 2 (`scipy.spatial.distance.jensenshannon(p, q, base=2)`).
    public static func jensenShannon(_ p: [Double], _ q: [Double]) -> Double {
        let sp = p.reduce(0, +)
        let sq = q.reduce(0, +)
        guard sp > 0, sq > 0 else { return .nan }
        var total = 0.0
        for (a, b) in zip(p, q) {
            let x = a / sp
            let y = b / sq
            let m = (x + y) / 2
            if x > 0 { total += x * log(x / m) }
            if y > 0 { total += y * log(y / m) }
        }
        return max(0, total / log(2) / 2).squareRoot()
    }

    /// Pearson's χ² test of homogeneity on a 2×K table of counts (`scipy.stats.chi2_contingency`, no correction).
    /// Columns empty in both rows are dropped; with fewer than two columns the test is undefined (0, 1, 0).
    public static func chiSquaredHomogeneity(_ first: [Int], _ second: [Int]) -> (statistic: Double, pValue: Double, degreesOfFreedom: Int) {
        let columns = zip(first, second).filter { $0.0 + $0.1 > 0 }
        guard columns.count >= 2 else { return (0, 1, 0) }
        let rowTotals = [Double(columns.reduce(0) { $0 + $1.0 }), Double(columns.reduce(0) { $0 + $1.1 })]
        guard rowTotals[0] > 0, rowTotals[1] > 0 else { return (0, 1, 0) }
        let total = rowTotals[0] + rowTotals[1]
        var statistic = 0.0
        for (a, b) in columns {
            let columnTotal = Double(a + b)
            for (observed, rowTotal) in [(Double(a), rowTotals[0]), (Double(b), rowTotals[1])] {
                let expected = rowTotal * columnTotal / total
                statistic += (observed - expected) * (observed - expected) / expected
            }
        }
        let dof = columns.count - 1
        return (statistic, chiSquaredSurvival(statistic, degreesOfFreedom: dof), dof)
    }
}

extension Statistics {
    /// The non-missing values in ascending order, radix-sorted by their bit patterns mapped to keep their order.
    public static func sortedNonMissing(_ values: [Double]) -> [Double] {
        guard values.count > 4096 else { return values.filter { !$0.isNaN }.sorted() }
        // Order-preserving map of doubles to unsigned integers: flip all bits of negatives, the sign bit of others.
        var keys = [UInt64](unsafeUninitializedCapacity: values.count) { buffer, count in
            var n = 0
            for v in values where !v.isNaN {
                let bits = v.bitPattern
                buffer[n] = bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
                n += 1
            }
            count = n
        }
        RadixSort.sort(&keys)
        return [Double](unsafeUninitializedCapacity: keys.count) { buffer, count in
            for (i, k) in keys.enumerated() {
                buffer[i] = Double(bitPattern: k & (1 << 63) != 0 ? k & ~(1 << 63) : ~k)
            }
            count = keys.count
        }
    }
}
