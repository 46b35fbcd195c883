//! Signals as flags the modes poll: SIGINT/SIGTERM ask to stop, SIGUSR1 to
//! print the counters.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::Failure;

/// A flag raised by any of `signals`.
pub fn flag(signals: &[i32]) -> Result<Arc<AtomicBool>, Failure> {
    let flag = Arc::new(AtomicBool::new(false));
    for &signal in signals {
        signal_hook::flag::register(signal, Arc::clone(&flag))
            .map_err(|e| Failure::Runtime(format!("cannot handle signal {signal}: {e}")))?;
    }
    Ok(flag)
}

/// Raised by SIGINT or SIGTERM.
pub fn stop() -> Result<Arc<AtomicBool>, Failure> {
    flag(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
}

/// Raised by SIGUSR1.
pub fn usr1() -> Result<Arc<AtomicBool>, Failure> {
    flag(&[signal_hook::consts::SIGUSR1])
}
