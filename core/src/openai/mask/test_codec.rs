//! In-process zlib codecs over `miniz_oxide`, standing in for the runtime's
//! `DecompressionStream("deflate")` and `CompressionStream("deflate")` where no runtime is: the
//! native tests of `sdxl-core`, and the fuzz harness, which includes this file by path (so both
//! run the same stand-in, and `miniz_oxide` stays a dev-dependency, out of the Worker).
//!
//! It refuses what workerd's decompressor refuses under its strict checks (the
//! `strict_compression_checks` behaviour of every compatibility date since 2023): a corrupt
//! stream, a preset dictionary, a wrong Adler-32, any byte after the stream's end, and a close
//! before the end. Output is handed on in pieces of at most 16 KiB, workerd's own step.

use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

use super::{convert as convert_with, ConversionError, Halt, MaskError, MaskReader, ZlibStream};

/// workerd's output step (`kj::byte buffer[16384]` in its compression context).
const STEP: usize = 16 * 1024;

/// A zlib decompressor with the runtime's strict checks.
pub struct Inflater {
    state: Box<InflateState>,
    ended: bool,
    out: Vec<u8>,
}

impl Inflater {
    #[must_use]
    pub fn new() -> Inflater {
        Inflater {
            state: InflateState::new_boxed(DataFormat::Zlib),
            ended: false,
            out: vec![0; STEP],
        }
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl ZlibStream for Inflater {
    fn write<E>(
        &mut self,
        mut input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Halt<E>> {
        loop {
            if self.ended {
                // Bytes after the end: "Trailing bytes after end of compressed data".
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(Halt::Refused)
                };
            }
            let result = miniz_oxide::inflate::stream::inflate(
                &mut self.state,
                input,
                &mut self.out,
                MZFlush::None,
            );
            input = &input[result.bytes_consumed..];
            if result.bytes_written > 0 {
                out(&self.out[..result.bytes_written]).map_err(Halt::Sink)?;
            }
            match result.status {
                Ok(MZStatus::StreamEnd) => self.ended = true,
                Ok(_) if result.bytes_consumed > 0 || result.bytes_written > 0 => {}
                // No progress: it needs more input (or refuses the input it has).
                Ok(_) | Err(miniz_oxide::MZError::Buf) if input.is_empty() => return Ok(()),
                _ => return Err(Halt::Refused),
            }
        }
    }

    fn close<E>(&mut self, _out: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), Halt<E>> {
        // Every byte was inflated as it was written; closing only checks the stream ended:
        // "Called close() on a decompression stream with incomplete data".
        if self.ended {
            Ok(())
        } else {
            Err(Halt::Refused)
        }
    }
}

/// A zlib compressor at zlib's default level, as the runtime's is.
pub struct Deflater {
    state: Box<CompressorOxide>,
    out: Vec<u8>,
}

impl Deflater {
    #[must_use]
    pub fn new() -> Deflater {
        Deflater {
            state: Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                6, 15, 0,
            ))),
            out: vec![0; STEP],
        }
    }

    fn run<E>(
        &mut self,
        mut input: &[u8],
        flush: MZFlush,
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Halt<E>> {
        loop {
            let result =
                miniz_oxide::deflate::stream::deflate(&mut self.state, input, &mut self.out, flush);
            input = &input[result.bytes_consumed..];
            if result.bytes_written > 0 {
                out(&self.out[..result.bytes_written]).map_err(Halt::Sink)?;
            }
            let finishing = flush == MZFlush::Finish;
            match result.status {
                Ok(MZStatus::StreamEnd) => return Ok(()),
                // All taken and nothing more to hand on (it keeps what it has not written yet).
                Ok(_)
                    if !finishing && input.is_empty() && result.bytes_written < self.out.len() =>
                {
                    return Ok(())
                }
                Err(miniz_oxide::MZError::Buf) if !finishing && input.is_empty() => return Ok(()),
                Ok(_) if result.bytes_consumed > 0 || result.bytes_written > 0 => {}
                _ => return Err(Halt::Refused),
            }
        }
    }
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater::new()
    }
}

impl ZlibStream for Deflater {
    fn write<E>(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Halt<E>> {
        if input.is_empty() {
            return Ok(());
        }
        self.run(input, MZFlush::None, out)
    }

    fn close<E>(&mut self, out: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), Halt<E>> {
        self.run(&[], MZFlush::Finish, out)
    }
}

/// Converts the mask `reader` reads with these codecs.
///
/// # Errors
/// The mask's refusal.
///
/// # Panics
/// When the compressor fails, which it never should.
pub fn convert(reader: MaskReader<'_>) -> Result<Vec<u8>, MaskError> {
    match convert_with(reader, &mut Inflater::new(), &mut Deflater::new()) {
        Ok(png) => Ok(png),
        Err(ConversionError::Mask(e)) => Err(e),
        Err(other) => panic!("the compressor failed: {other}"),
    }
}
