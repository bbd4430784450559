//! The function's one error type. Its [`ErrorKind`] decides what happens next: a transient
//! kind is delivered again, a permanent one becomes a `failed` record (or, when even the
//! record cannot be written, goes to the dead-letter queue) and is never retried forever.

/// What went wrong, by what it means for the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The image is bad or too large (`corrupt`, `truncated`, `unsupported`,
    /// `limit_exceeded`, `invalid_spec`, `encode`): the same bytes fail the same way. The
    /// exception is `out_of_memory` (an allocation failed: the instance, not the image, is
    /// short), which is retried.
    Image(imgcore::ErrorKind),
    /// S3 or DynamoDB refused for lack of permission (HTTP 403): fixed by a deploy, not by
    /// trying again.
    AccessDenied,
    /// S3 or DynamoDB refused the request itself (another 4xx: a key over 1,024 bytes, an
    /// item over DynamoDB's size limit, a bucket that does not exist).
    Rejected,
    /// Throttling, 5xx, timeouts and connection failures: try again.
    Transient,
    /// The invocation ran out of time before the work finished: try again.
    Deadline,
    /// The event or message cannot be read: no retry can change that.
    BadEvent,
    /// The image engine stopped unexpectedly (a panic, caught).
    Internal,
}

impl ErrorKind {
    /// Whether delivering the work again can help.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Transient
                | ErrorKind::Deadline
                | ErrorKind::Image(imgcore::ErrorKind::OutOfMemory)
        )
    }

    /// The stable name stored in records (`error_kind`) and used as the metric reason.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Image(k) => k.as_str(),
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Transient => "transient",
            ErrorKind::Deadline => "deadline",
            ErrorKind::BadEvent => "bad_event",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    /// What it means for the work.
    pub kind: ErrorKind,
    /// What happened (with the service's error code when there is one).
    pub message: String,
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A transient failure.
    pub fn transient(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transient, message)
    }

    /// Whether delivering the work again can help.
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }

    /// The same error with `context` before its message.
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<imgcore::Error> for Error {
    fn from(e: imgcore::Error) -> Self {
        Error::new(ErrorKind::Image(e.kind()), e.to_string())
    }
}

/// The kind of an S3 or DynamoDB response, from its HTTP status and error code.
pub fn kind_of_response(status: Option<u16>, code: Option<&str>) -> ErrorKind {
    let transient_code = matches!(
        code,
        Some(
            "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "InternalError"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "RequestTimeout"
                | "TransactionConflictException"
        )
    );
    match status {
        _ if transient_code => ErrorKind::Transient,
        Some(s) if s >= 500 || s == 429 || s == 408 => ErrorKind::Transient,
        Some(403) => ErrorKind::AccessDenied,
        _ if matches!(code, Some("AccessDenied" | "AccessDeniedException")) => {
            ErrorKind::AccessDenied
        }
        Some(_) => ErrorKind::Rejected,
        // No response at all: timeouts and connection failures.
        None => ErrorKind::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_kinds_are_retried() {
        assert!(ErrorKind::Transient.retryable());
        assert!(ErrorKind::Deadline.retryable());
        assert!(ErrorKind::Image(imgcore::ErrorKind::OutOfMemory).retryable());
        for k in [
            ErrorKind::Image(imgcore::ErrorKind::Corrupt),
            ErrorKind::AccessDenied,
            ErrorKind::Rejected,
            ErrorKind::BadEvent,
            ErrorKind::Internal,
        ] {
            assert!(!k.retryable(), "{k}");
        }
    }

    #[test]
    fn responses_are_classified_by_status_and_code() {
        assert_eq!(
            kind_of_response(Some(503), Some("SlowDown")),
            ErrorKind::Transient
        );
        assert_eq!(kind_of_response(Some(500), None), ErrorKind::Transient);
        assert_eq!(
            kind_of_response(Some(400), Some("ThrottlingException")),
            ErrorKind::Transient
        );
        assert_eq!(
            kind_of_response(Some(400), Some("ProvisionedThroughputExceededException")),
            ErrorKind::Transient
        );
        assert_eq!(
            kind_of_response(Some(403), Some("AccessDenied")),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_of_response(Some(400), Some("AccessDeniedException")),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_of_response(Some(400), Some("KeyTooLongError")),
            ErrorKind::Rejected
        );
        assert_eq!(
            kind_of_response(Some(404), Some("NoSuchBucket")),
            ErrorKind::Rejected
        );
        assert_eq!(kind_of_response(None, None), ErrorKind::Transient);
        assert_eq!(
            ErrorKind::Image(imgcore::ErrorKind::LimitExceeded).as_str(),
            "limit_exceeded"
        );
    }
}
