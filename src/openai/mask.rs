//! An edit's mask converted with the runtime's zlib: `sdxl_core::openai::mask::MaskReader`
//! decides everything (the PNG's chunks, its header within the limits, how much image data the
//! header allows, the rows, the PNG written); this module moves bytes between it and the
//! runtime's `DecompressionStream` / `CompressionStream` (`crate::bindings::compression`), so no
//! zlib codec is in the Worker's Wasm.
//!
//! Memory, beside the mask's own PNG (in the request's form) and the converted PNG (held in the
//! budget before this runs, `converted_bound`): in Wasm, two rows, one read of at most 64 KiB,
//! and converted rows up to [`ROWS_PER_WRITE`] and what one [`INFLATED_STEP`] adds; in the
//! runtime, one compressed piece of [`PIECE`] bytes and what it inflates to, at most about 1032
//! times its size (deflate's longest match, 258 bytes, takes at least 2 bits): 4 MiB, as every
//! byte of it is read before the next piece is written; and the compressed rows, at most
//! `converted_bound` (for black and white rows, far less), read at the end straight into the
//! converted PNG.

use js_sys::Uint8Array;
use sdxl_core::openai::mask::{MaskError, MaskReader};
use wasm_bindgen::JsCast;

use crate::bindings::compression::{Next, ZlibPump};
use crate::failure::Failure;

/// Compressed bytes written to the decompressor at a time: what it inflates to in one go, before
/// it is read, is at most about 1032 times this.
const PIECE: usize = 4096;
/// Inflated bytes handed to the reader at a time: the converted rows they make are at most
/// 8 times as many (a 1-bit mask's), plus a row.
const INFLATED_STEP: usize = 8 * 1024;
/// Converted rows gathered before they are written to the compressor.
const ROWS_PER_WRITE: usize = 64 * 1024;

/// Why a conversion stopped.
enum Stop {
    /// The mask is refused (the client's to fix).
    Mask(MaskError),
    /// The runtime's compressor failed, or its output outgrew the bound held for it.
    Gateway,
}

impl From<MaskError> for Stop {
    fn from(e: MaskError) -> Self {
        Stop::Mask(e)
    }
}

/// Converts the mask whose header `reader` has read: the converted PNG or the mask's refusal
/// (the inner result, for `sdxl_core::openai::request::MaskPending::converted`).
///
/// # Errors
/// [`Failure::Internal`] when the runtime's streams fail on their own (not the mask's fault).
pub async fn convert(reader: MaskReader<'_>) -> Result<Result<Vec<u8>, MaskError>, Failure> {
    let mut inflater = ZlibPump::decompressor()?;
    let mut deflater = ZlibPump::compressor()?;
    match run(reader, &mut inflater, &mut deflater).await {
        Ok(png) => Ok(Ok(png)),
        Err(stop) => {
            // A refused mask's image data may go on inflating: stop it there.
            inflater.cancel();
            deflater.cancel();
            match stop {
                Stop::Mask(e) => Ok(Err(e)),
                Stop::Gateway => Err(Failure::Internal(
                    "the runtime's zlib compressor failed on a mask".into(),
                )),
            }
        }
    }
}

async fn run(
    mut reader: MaskReader<'_>,
    inflater: &mut ZlibPump,
    deflater: &mut ZlibPump,
) -> Result<Vec<u8>, Stop> {
    let mut compressed = reader.compressed();
    let mut data: &[u8] = &[];
    let mut piece = Vec::with_capacity(PIECE);
    let mut rows = Vec::with_capacity(ROWS_PER_WRITE + 8 * INFLATED_STEP);
    let mut ended = false;
    loop {
        // The IDAT chunks' data gathered into pieces: a PNG may split it into chunks of any size,
        // one byte each even, and a write per chunk could be many thousands.
        piece.clear();
        while piece.len() < PIECE {
            if data.is_empty() {
                match compressed.next() {
                    Some(next) => data = next,
                    None => break,
                }
            }
            let n = (PIECE - piece.len()).min(data.len());
            piece.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        // Everything a piece inflated to is read before the next piece is written; after the
        // last, the stream is closed and read to its end.
        let last = piece.is_empty();
        if last {
            inflater.close();
        } else if ended {
            // Image data after the zlib stream's end (workerd refuses it as it comes; Node's
            // stream may end first).
            return Err(reader.stream_refused().into());
        } else {
            inflater.write(&piece);
        }
        loop {
            let read = inflater.read(!last).await;
            let bytes = match read.as_ref().map(|value| inflater.bytes_of(value)) {
                Ok(Next::Bytes(bytes)) => bytes,
                Ok(Next::Nothing) => break,
                Ok(Next::End) => {
                    ended = true;
                    break;
                }
                Err(_) => return Err(reader.stream_refused().into()),
            };
            for step in bytes.chunks(INFLATED_STEP) {
                reader.push_inflated(step, &mut rows)?;
                if rows.len() >= ROWS_PER_WRITE {
                    deflater.write(&rows);
                    rows.clear();
                }
            }
        }
        if last {
            break;
        }
    }
    let mut writer = reader.writer();
    reader.finish()?;
    deflater.write(&rows);
    let all: Uint8Array = deflater
        .read_to_end()
        .await
        .map_err(|_| Stop::Gateway)?
        .unchecked_into();
    all.copy_to(
        writer
            .append(all.length() as usize)
            .map_err(|_| Stop::Gateway)?,
    );
    Ok(writer.finish())
}

#[cfg(test)]
mod tests;
