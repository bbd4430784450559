//! Typed errors. Every failure of the engine is one of these; none is a panic.

use crate::format::ImageFormat;

/// What went wrong while probing or rendering an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not an image format the engine reads.
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// The bytes claim to be a known format but cannot be decoded.
    #[error("corrupt {format} data: {reason}")]
    Corrupt {
        /// Format the magic bytes named.
        format: ImageFormat,
        /// What the decoder reported.
        reason: String,
    },
    /// The data ends before the image does.
    #[error("truncated {format} data: {reason}")]
    Truncated {
        /// Format the magic bytes named.
        format: ImageFormat,
        /// What the decoder reported.
        reason: String,
    },
    /// The image is larger than the configured [`Limits`](crate::Limits) allow.
    #[error("image exceeds limits: {what} is {actual}, the limit is {limit}")]
    LimitExceeded {
        /// Which limit (`"pixels"`, `"width"`, `"height"`, `"input bytes"`, `"frames"`, `"decoded bytes"`).
        what: &'static str,
        /// The value the input has (or would need).
        actual: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A decoder stopped at one of its own safety limits (memory for metadata chunks,
    /// decompressed size), which the header check could not foresee.
    #[error("image exceeds decoder limits: {0}")]
    DecoderLimit(String),
    /// An allocation failed: the process has less memory than the image needs within the
    /// limits (a process or container limit below [`Limits::max_decoded_bytes`](crate::Limits),
    /// or other work using it). Not a property of the image: it may succeed with more memory.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// An output specification could not be parsed or makes no sense.
    #[error("invalid output spec: {0}")]
    InvalidSpec(String),
    /// An encoder failed.
    #[error("cannot encode {format}: {reason}")]
    Encode {
        /// The output format.
        format: ImageFormat,
        /// What the encoder reported.
        reason: String,
    },
}

/// The kind of an [`Error`], for callers that map errors to exit codes or retry policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Corrupt`].
    Corrupt,
    /// See [`Error::Truncated`].
    Truncated,
    /// See [`Error::LimitExceeded`].
    LimitExceeded,
    /// See [`Error::InvalidSpec`].
    InvalidSpec,
    /// See [`Error::Encode`].
    Encode,
    /// See [`Error::OutOfMemory`].
    OutOfMemory,
}

impl ErrorKind {
    /// A short stable name (`"unsupported"`, `"corrupt"`, …) for logs, metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Truncated => "truncated",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::InvalidSpec => "invalid_spec",
            ErrorKind::Encode => "encode",
            ErrorKind::OutOfMemory => "out_of_memory",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::LimitExceeded { .. } | Error::DecoderLimit(_) => ErrorKind::LimitExceeded,
            Error::InvalidSpec(_) => ErrorKind::InvalidSpec,
            Error::Encode { .. } => ErrorKind::Encode,
            Error::OutOfMemory(_) => ErrorKind::OutOfMemory,
        }
    }

    pub(crate) fn corrupt(format: ImageFormat, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            format,
            reason: reason.into(),
        }
    }

    pub(crate) fn encode(format: ImageFormat, reason: impl Into<String>) -> Self {
        Error::Encode {
            format,
            reason: reason.into(),
        }
    }

    /// Map an `image` crate error met while decoding `format`.
    pub(crate) fn from_image(format: ImageFormat, err: image::ImageError) -> Self {
        use image::error::{ImageError as E, LimitErrorKind};
        match err {
            E::Limits(l) => Error::DecoderLimit(match l.kind() {
                LimitErrorKind::DimensionError => format!("{format} dimensions: {l}"),
                _ => format!("{format}: {l}"),
            }),
            E::Unsupported(u) => Error::Unsupported(format!("{format}: {u}")),
            E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Error::Truncated {
                format,
                reason: e.to_string(),
            },
            other => {
                let reason = other.to_string();
                if looks_truncated(&reason) {
                    Error::Truncated { format, reason }
                } else {
                    Error::Corrupt { format, reason }
                }
            }
        }
    }
}

fn looks_truncated(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("eof")
        || m.contains("end of file")
        || m.contains("unexpected end")
        || m.contains("truncat")
        || m.contains("not enough data")
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
