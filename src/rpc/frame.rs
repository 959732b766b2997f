//! Wire framing: `[length u32 BE][call id u64 BE][kind u8][tag u16 BE][payload]`, where length
//! counts everything after itself. Pure encode/decode, bounded by `FRAME_BYTES_MAX`.

/// Largest frame accepted: a 64 MiB block plus headers.
pub const FRAME_BYTES_MAX: usize = (64 << 20) + 4096;
const HEADER_BYTES: usize = 8 + 1 + 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request = 0,
    Response = 1,
    Error = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub call_id: u64,
    pub kind: Kind,
    pub tag: u16,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the limit")]
    TooLarge { len: usize },
    #[error("frame shorter than its header")]
    Short,
    #[error("unknown frame kind {kind}")]
    UnknownKind { kind: u8 },
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let len = HEADER_BYTES + self.payload.len();
        let mut out = Vec::with_capacity(4 + len);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&self.call_id.to_be_bytes());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.tag.to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// The body length announced by a frame's first four bytes, checked against the limit.
    pub fn body_len(prefix: [u8; 4]) -> Result<usize, FrameError> {
        let len = u32::from_be_bytes(prefix) as usize;
        if len > FRAME_BYTES_MAX {
            return Err(FrameError::TooLarge { len });
        }
        if len < HEADER_BYTES {
            return Err(FrameError::Short);
        }
        Ok(len)
    }

    /// Decodes a frame body (everything after the length prefix).
    pub fn decode(body: Vec<u8>) -> Result<Frame, FrameError> {
        if body.len() < HEADER_BYTES {
            return Err(FrameError::Short);
        }
        let call_id = u64::from_be_bytes(body[0..8].try_into().map_err(|_| FrameError::Short)?);
        let kind = match body[8] {
            0 => Kind::Request,
            1 => Kind::Response,
            2 => Kind::Error,
            kind => return Err(FrameError::UnknownKind { kind }),
        };
        let tag = u16::from_be_bytes([body[9], body[10]]);
        let mut payload = body;
        payload.drain(..HEADER_BYTES);
        Ok(Frame { call_id, kind, tag, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frame = Frame { call_id: 7, kind: Kind::Request, tag: 12, payload: b"hello".to_vec() };
        let bytes = frame.encode();
        let len = Frame::body_len(bytes[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(Frame::decode(bytes[4..].to_vec()).unwrap(), frame);
    }

    #[test]
    fn bad_frames_are_rejected() {
        assert!(matches!(
            Frame::body_len((u32::MAX).to_be_bytes()),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(Frame::body_len(3u32.to_be_bytes()), Err(FrameError::Short));
        let mut body = Frame { call_id: 1, kind: Kind::Response, tag: 0, payload: vec![] }.encode();
        body[12] = 9;
        assert_eq!(Frame::decode(body[4..].to_vec()), Err(FrameError::UnknownKind { kind: 9 }));
    }
}
