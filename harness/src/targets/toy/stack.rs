//! Toy target: a stack behind a lock.
//!
//! Planted bug: [`StackBug::SplitPop`] reads the top under the lock, drops the lock, and
//! removes it under a second acquisition, so two concurrent pops can return the same element.
//! Each pop is correct on its own; only the schedule engine (with linearizability) and loom
//! see it.

use crate::target::Target;
use algos::sync::Mutex;
use arbitrary::Arbitrary;

/// Which bug, if any, the stack carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackBug {
    /// The correct stack.
    None,
    /// `pop` takes the lock twice.
    SplitPop,
}

/// An operation on the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Arbitrary)]
pub enum StackOp {
    /// Push a value.
    Push(u8),
    /// Pop the top.
    Pop,
    /// Number of elements.
    Len,
}

/// The structure under test.
#[derive(Debug)]
pub struct Stack {
    items: Mutex<Vec<u8>>,
    bug: StackBug,
}

impl Stack {
    /// An empty stack with `bug` planted.
    pub fn new(bug: StackBug) -> Self {
        Stack {
            items: Mutex::new(Vec::new()),
            bug,
        }
    }

    /// Pushes `v`.
    pub fn push(&self, v: u8) {
        self.items.lock().push(v);
    }

    /// Pops the top.
    pub fn pop(&self) -> Option<u8> {
        match self.bug {
            StackBug::None => self.items.lock().pop(),
            StackBug::SplitPop => {
                let top = self.items.lock().last().copied()?;
                let mut g = self.items.lock();
                if let Some(pos) = g.iter().rposition(|x| *x == top) {
                    g.remove(pos);
                }
                Some(top)
            }
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.lock().len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The stack target.
#[derive(Debug, Clone)]
pub struct StackTarget {
    name: &'static str,
    bug: StackBug,
}

impl StackTarget {
    /// A target named `name` running the stack with `bug`.
    pub fn new(name: &'static str, bug: StackBug) -> Self {
        StackTarget { name, bug }
    }
}

/// What a stack operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackRet {
    /// `Push`.
    Unit,
    /// `Pop`.
    Popped(Option<u8>),
    /// `Len`.
    Len(usize),
}

impl Target for StackTarget {
    type Op = StackOp;
    type Ret = StackRet;
    type Model = Vec<u8>;
    type Sut = Stack;

    fn name(&self) -> &'static str {
        self.name
    }
    fn new_sut(&self) -> Stack {
        Stack::new(self.bug)
    }
    fn new_model(&self) -> Vec<u8> {
        Vec::new()
    }
    fn apply(&self, s: &Stack, op: &StackOp) -> StackRet {
        match op {
            StackOp::Push(v) => {
                s.push(*v);
                StackRet::Unit
            }
            StackOp::Pop => StackRet::Popped(s.pop()),
            StackOp::Len => StackRet::Len(s.len()),
        }
    }
    fn step(&self, m: &mut Vec<u8>, op: &StackOp) -> StackRet {
        match op {
            StackOp::Push(v) => {
                m.push(*v);
                StackRet::Unit
            }
            StackOp::Pop => StackRet::Popped(m.pop()),
            StackOp::Len => StackRet::Len(m.len()),
        }
    }
    fn invariants(&self, s: &Stack, m: &Vec<u8>) -> Result<(), String> {
        let real = s.items.lock().clone();
        if real == *m {
            Ok(())
        } else {
            Err(format!("stack holds {real:?}, the model {m:?}"))
        }
    }
}
