//! Backend choice: `cpu`, `cuda`, `cuda:N`, `metal` or `auto`. GPU backends
//! exist only in builds with the `cuda` / `metal` cargo features.

use anyhow::{bail, Result};
use candle_core::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
    Metal,
    Auto,
}

pub fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    match s {
        "cpu" => Ok(DeviceChoice::Cpu),
        "cuda" => Ok(DeviceChoice::Cuda(0)),
        "metal" => Ok(DeviceChoice::Metal),
        "auto" => Ok(DeviceChoice::Auto),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Ok(DeviceChoice::Cuda(n)),
            _ => Err(format!(
                "unknown device `{other}`; expected cpu, cuda, cuda:N, metal or auto"
            )),
        },
    }
}

/// Opens the device; `auto` takes the best available. Returns the device and
/// a human-readable name for the run panel.
pub fn open(choice: DeviceChoice) -> Result<(Device, String)> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::Cpu, "cpu".into())),
        DeviceChoice::Cuda(n) => {
            if !cfg!(feature = "cuda") {
                bail!(
                    "device `cuda` asked for, but this build has no CUDA support; rebuild with \
                     `cargo build --release --features cuda` (needs the CUDA toolkit), or set device = \"cpu\""
                );
            }
            Ok((Device::new_cuda(n)?, format!("cuda:{n}")))
        }
        DeviceChoice::Metal => {
            if !cfg!(feature = "metal") {
                bail!(
                    "device `metal` asked for, but this build has no Metal support; rebuild with \
                     `cargo build --release --features metal` (macOS), or set device = \"cpu\""
                );
            }
            Ok((Device::new_metal(0)?, "metal".into()))
        }
        DeviceChoice::Auto => {
            if cfg!(feature = "cuda") {
                if let Ok(d) = Device::new_cuda(0) {
                    return Ok((d, "cuda:0 (auto)".into()));
                }
            }
            if cfg!(feature = "metal") {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok((d, "metal (auto)".into()));
                }
            }
            Ok((Device::Cpu, "cpu (auto: no GPU backend available)".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse_device("cuda:1"), Ok(DeviceChoice::Cuda(1)));
        assert!(parse_device("gpu").is_err());
        assert!(parse_device("cuda:x").is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cpu_build_explains_how_to_get_cuda() {
        let e = open(DeviceChoice::Cuda(0)).unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
    }
}
