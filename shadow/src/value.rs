//! Values that carry their shadow and origin, with KMSAN's propagation rules.
//!
//! A checked load yields a [`Tainted`] value. Copying it, storing it, and computing with it
//! never reports: the shadow travels with the bits. *Using* it does — as a branch condition
//! ([`Tainted::branch`]), an index ([`Tainted::index`]), a pointer or length, or through an
//! explicit [`Tainted::check`] — and the report names the use site and the origin.
//!
//! Propagation (a set shadow bit means "this bit is uninitialized"):
//!
//! * `!a`: the shadow of `a`.
//! * `a ^ b`: `Sa | Sb`.
//! * `a | b`: a result bit is initialized if either operand has an *initialized 1* there:
//!   `(Sa | Sb) & !(Va & !Sa) & !(Vb & !Sb)`.
//! * `a & b`: initialized if either operand has an *initialized 0* there:
//!   `(Sa | Sb) & !(!Va & !Sa) & !(!Vb & !Sb)`.
//! * `a + b`, `a - b`, `a * b`: a carry can move garbage upward, never downward, so every bit
//!   from the lowest uninitialized bit of either operand upward is uninitialized.
//! * shifts by an initialized amount shift the shadow; by an uninitialized amount, the whole
//!   result is uninitialized.
//! * `a == b`: initialized if the initialized bits already differ, else as uninitialized as
//!   the operands.
//!
//! The result's origin is the origin of the first operand that contributed uninitialized
//! bits, as MSan chooses it.

use crate::origin::{Origin, Site};
use crate::report::{emit, BugKind, Report};
use std::ops::{Add, BitAnd, BitOr, BitXor, Mul, Not, Shl, Shr, Sub};
use std::panic::Location;

/// The integer types a [`Tainted`] can hold.
pub trait Prim:
    Copy
    + Eq
    + std::fmt::Debug
    + Not<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Send
    + Sync
    + 'static
{
    /// Size in bytes.
    const BYTES: usize;
    /// All bits clear.
    const ZERO: Self;
    /// All bits set.
    const ONES: Self;
    /// Little-endian bytes into the first `BYTES` of `out`.
    fn write_le(self, out: &mut [u8]);
    /// From the first `BYTES` little-endian bytes of `b`.
    fn read_le(b: &[u8]) -> Self;
    /// Wrapping addition.
    fn wadd(self, o: Self) -> Self;
    /// Wrapping subtraction.
    fn wsub(self, o: Self) -> Self;
    /// Wrapping multiplication.
    fn wmul(self, o: Self) -> Self;
    /// Shift left (amount taken modulo the width).
    fn wshl(self, n: u32) -> Self;
    /// Shift right (amount taken modulo the width).
    fn wshr(self, n: u32) -> Self;
    /// Every bit from the lowest set bit of `self` upward.
    fn lowest_set_and_up(self) -> Self;
    /// Conversion for indexes.
    fn to_usize(self) -> usize;
}

macro_rules! prim {
    ($($t:ty),*) => {$(
        impl Prim for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            const ZERO: Self = 0;
            const ONES: Self = !0;
            #[inline(always)]
            fn write_le(self, out: &mut [u8]) {
                out[..Self::BYTES].copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn read_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::BYTES]);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn wadd(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)]
            fn wsub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)]
            fn wmul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)]
            fn wshl(self, n: u32) -> Self { self.wrapping_shl(n) }
            #[inline(always)]
            fn wshr(self, n: u32) -> Self { self.wrapping_shr(n) }
            #[inline(always)]
            fn lowest_set_and_up(self) -> Self {
                if self == 0 { 0 } else { (!0 as $t) << self.trailing_zeros() }
            }
            #[inline(always)]
            fn to_usize(self) -> usize { self as usize }
        }
    )*};
}
prim!(u8, u16, u32, u64, usize);

/// A value with its shadow (set bit = uninitialized) and the origin of its poisoned bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tainted<T: Prim> {
    /// The bits (meaningless where the shadow is set).
    pub value: T,
    /// The shadow.
    pub shadow: T,
    /// Where the poisoned bits came from (`None` when fully initialized).
    pub origin: Option<Origin>,
}

impl<T: Prim> Tainted<T> {
    /// A fully initialized value.
    #[inline(always)]
    pub fn init(value: T) -> Self {
        Tainted {
            value,
            shadow: T::ZERO,
            origin: None,
        }
    }

    /// A value whose bits set in `shadow` are uninitialized, created at the caller.
    #[track_caller]
    pub fn uninit(value: T, shadow: T) -> Self {
        // The location is taken here: `#[track_caller]` does not reach into a closure.
        let at = Location::caller();
        let origin = (shadow != T::ZERO)
            .then(|| Origin::new_at(crate::origin::Created::Local, Site::new(at, None)));
        Tainted {
            value,
            shadow,
            origin,
        }
    }

    /// True if every bit is initialized.
    #[inline(always)]
    pub fn is_init(&self) -> bool {
        self.shadow == T::ZERO
    }

    /// Returns the value, reporting `uninit-value` at the caller if any bit is uninitialized.
    #[track_caller]
    #[inline]
    pub fn check(self) -> T {
        self.check_in(None)
    }

    /// [`Tainted::check`] naming the function of the use (what the macros pass).
    #[track_caller]
    pub fn check_in(self, function: Option<&'static str>) -> T {
        if self.shadow != T::ZERO {
            self.report(Location::caller(), function);
        }
        self.value
    }

    /// Use as an index or length: checked.
    #[track_caller]
    pub fn index(self) -> usize {
        self.check().to_usize()
    }

    #[cold]
    fn report(&self, at: &'static Location<'static>, function: Option<&'static str>) {
        let kind = if self.origin.is_some_and(|o| o.is_uaf()) {
            BugKind::UseAfterFree
        } else {
            BugKind::UninitValue
        };
        emit(Report {
            kind,
            site: Site::new(at, function),
            origin: self.origin,
            bytes: None,
            addr: None,
        });
    }

    fn pick_origin(a: &Self, b: &Self) -> Option<Origin> {
        if a.shadow != T::ZERO {
            a.origin
        } else if b.shadow != T::ZERO {
            b.origin
        } else {
            None
        }
    }

    fn with(value: T, shadow: T, origin: Option<Origin>) -> Self {
        Tainted {
            value,
            shadow,
            origin: if shadow == T::ZERO { None } else { origin },
        }
    }

    /// Shift left by a possibly uninitialized amount.
    pub fn shl_by(self, n: Tainted<u32>) -> Self {
        if !n.is_init() {
            return Tainted::with(self.value.wshl(n.value), T::ONES, n.origin.or(self.origin));
        }
        Tainted::with(
            self.value.wshl(n.value),
            self.shadow.wshl(n.value),
            self.origin,
        )
    }

    /// Shift right by a possibly uninitialized amount.
    pub fn shr_by(self, n: Tainted<u32>) -> Self {
        if !n.is_init() {
            return Tainted::with(self.value.wshr(n.value), T::ONES, n.origin.or(self.origin));
        }
        Tainted::with(
            self.value.wshr(n.value),
            self.shadow.wshr(n.value),
            self.origin,
        )
    }

    /// `self == other` as a tainted boolean.
    pub fn eq(self, other: Self) -> TaintedBool {
        let known = !(self.shadow | other.shadow);
        let differ = (self.value ^ other.value) & known;
        if differ != T::ZERO {
            return TaintedBool::init(false);
        }
        if self.shadow == T::ZERO && other.shadow == T::ZERO {
            return TaintedBool::init(self.value == other.value);
        }
        TaintedBool {
            value: false,
            init: false,
            origin: Self::pick_origin(&self, &other),
        }
    }
}

impl<T: Prim> Not for Tainted<T> {
    type Output = Self;
    fn not(self) -> Self {
        Tainted::with(!self.value, self.shadow, self.origin)
    }
}

impl<T: Prim> BitXor for Tainted<T> {
    type Output = Self;
    fn bitxor(self, o: Self) -> Self {
        Tainted::with(
            self.value ^ o.value,
            self.shadow | o.shadow,
            Self::pick_origin(&self, &o),
        )
    }
}

impl<T: Prim> BitOr for Tainted<T> {
    type Output = Self;
    fn bitor(self, o: Self) -> Self {
        let ones_a = self.value & !self.shadow;
        let ones_b = o.value & !o.shadow;
        let s = (self.shadow | o.shadow) & !ones_a & !ones_b;
        Tainted::with(self.value | o.value, s, Self::pick_origin(&self, &o))
    }
}

impl<T: Prim> BitAnd for Tainted<T> {
    type Output = Self;
    fn bitand(self, o: Self) -> Self {
        let zeros_a = !self.value & !self.shadow;
        let zeros_b = !o.value & !o.shadow;
        let s = (self.shadow | o.shadow) & !zeros_a & !zeros_b;
        Tainted::with(self.value & o.value, s, Self::pick_origin(&self, &o))
    }
}

macro_rules! arith {
    ($tr:ident, $m:ident, $op:ident) => {
        #[allow(clippy::suspicious_arithmetic_impl)]
        impl<T: Prim> $tr for Tainted<T> {
            type Output = Self;
            fn $m(self, o: Self) -> Self {
                let s = (self.shadow | o.shadow).lowest_set_and_up();
                Tainted::with(self.value.$op(o.value), s, Self::pick_origin(&self, &o))
            }
        }
    };
}
arith!(Add, add, wadd);
arith!(Sub, sub, wsub);
arith!(Mul, mul, wmul);

impl<T: Prim> Shl<u32> for Tainted<T> {
    type Output = Self;
    fn shl(self, n: u32) -> Self {
        Tainted::shl_by(self, Tainted::init(n))
    }
}

impl<T: Prim> Shr<u32> for Tainted<T> {
    type Output = Self;
    fn shr(self, n: u32) -> Self {
        Tainted::shr_by(self, Tainted::init(n))
    }
}

/// A boolean that may be uninitialized (the result of a comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaintedBool {
    /// The value (meaningless if not `init`).
    pub value: bool,
    /// Whether the value is initialized.
    pub init: bool,
    /// The origin of the uninitialized operand.
    pub origin: Option<Origin>,
}

impl TaintedBool {
    /// An initialized boolean.
    pub fn init(value: bool) -> Self {
        TaintedBool {
            value,
            init: true,
            origin: None,
        }
    }

    /// Use as a branch condition: reports `uninit-value` at the caller if uninitialized.
    #[track_caller]
    pub fn branch(self) -> bool {
        if !self.init {
            let t = Tainted::<u8> {
                value: u8::from(self.value),
                shadow: 1,
                origin: self.origin,
            };
            t.report(Location::caller(), None);
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::collect;

    fn t(v: u64, s: u64) -> Tainted<u64> {
        Tainted::uninit(v, s)
    }

    #[test]
    fn or_with_initialized_ones_is_initialized() {
        let ones = Tainted::init(u64::MAX);
        let junk = t(0x1234, u64::MAX);
        assert!((ones | junk).is_init());
        let partial = Tainted::init(0xff00u64) | t(0, 0xffff);
        assert_eq!(partial.shadow, 0x00ff);
        assert!(partial.origin.is_some());
    }

    #[test]
    fn and_with_initialized_zero_is_initialized() {
        let zero = Tainted::init(0u64);
        assert!((zero & t(7, u64::MAX)).is_init());
        let mask = Tainted::init(0x0fu64) & t(0, 0xff);
        assert_eq!(mask.shadow, 0x0f);
    }

    #[test]
    fn addition_poisons_from_the_lowest_uninit_bit_up() {
        let r = Tainted::init(1u64) + t(0, 0b1000);
        assert_eq!(r.shadow, !0u64 << 3);
        let c = Tainted::init(1u32) + Tainted::init(2);
        assert!(c.is_init());
        assert_eq!(c.value, 3);
    }

    #[test]
    fn xor_not_shift_propagate() {
        let a = t(0, 0x0f);
        assert_eq!((a ^ Tainted::init(0xffu64)).shadow, 0x0f);
        assert_eq!((!a).shadow, 0x0f);
        assert_eq!((a << 4).shadow, 0xf0);
        assert_eq!((a >> 4).shadow, 0);
        assert!((a >> 4).origin.is_none());
        let by = Tainted::<u32>::uninit(1, 1);
        assert_eq!(Tainted::init(5u64).shl_by(by).shadow, u64::MAX);
    }

    #[test]
    fn equality_is_exact_when_known_bits_differ() {
        let a = t(0b10, 0b01);
        assert_eq!(a.eq(Tainted::init(0b00)), TaintedBool::init(false));
        assert!(!a.eq(Tainted::init(0b10)).init);
    }

    #[test]
    fn copying_is_silent_using_reports() {
        let a = t(3, 0xff00);
        let ((), quiet) = collect(|| {
            let b = a; // a copy: nothing
            let _c = b + Tainted::init(1); // arithmetic: nothing
        });
        assert!(quiet.is_empty());
        let (_, reps) = collect(|| a.check());
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].kind, BugKind::UninitValue);
        assert!(reps[0].render().contains("Uninit was created at:"));
        let (_, none) = collect(|| {
            let _d = crate::runtime::disable();
            a.check()
        });
        assert!(none.is_empty(), "reported while disabled");
    }
}
