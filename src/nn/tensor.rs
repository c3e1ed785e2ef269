//! Activation tensors in channel-major layout.
//!
//! A batch of activations is stored as (C, N, H, W): channel outermost, then the image of the
//! batch, then rows and columns. With this layout a convolution is one GEMM whose output is
//! already in place (`Y[c_out, (n, h, w)] = W[c_out, k] * cols[k, (n, h, w)]`), and a dense
//! layer's input is a (features x N) matrix.

/// The shape of one sample's activation: channels, height, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Channels (or features, for flat activations).
    pub c: usize,
    /// Height in pixels (1 for flat activations).
    pub h: usize,
    /// Width in pixels (1 for flat activations).
    pub w: usize,
}

impl Shape {
    /// A (c, h, w) shape.
    pub const fn new(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }
    /// Elements per sample.
    pub const fn len(&self) -> usize {
        self.c * self.h * self.w
    }
    /// True for a shape with no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Pixels per channel.
    pub const fn plane(&self) -> usize {
        self.h * self.w
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.h == 1 && self.w == 1 {
            write!(f, "{}", self.c)
        } else {
            write!(f, "{}x{}x{}", self.c, self.h, self.w)
        }
    }
}

/// A batch of activations (or their gradients) in (C, N, H, W) layout.
#[derive(Debug, Clone, Default)]
pub struct Act {
    /// Per-sample shape.
    pub shape: Shape,
    /// Samples in the batch.
    pub n: usize,
    /// `shape.c * n * shape.h * shape.w` values.
    pub data: Vec<f32>,
}

impl Default for Shape {
    fn default() -> Self {
        Self::new(0, 0, 0)
    }
}

impl Act {
    /// A zero batch.
    pub fn zeros(shape: Shape, n: usize) -> Self {
        Self {
            shape,
            n,
            data: vec![0.0; shape.len() * n],
        }
    }

    /// Sets shape and batch size, keeping the allocation; contents are unspecified.
    pub fn reshape(&mut self, shape: Shape, n: usize) {
        self.shape = shape;
        self.n = n;
        self.data.resize(shape.len() * n, 0.0);
    }

    /// The values of channel `c` for the whole batch: N planes of H x W.
    pub fn channel(&self, c: usize) -> &[f32] {
        let len = self.n * self.shape.plane();
        &self.data[c * len..(c + 1) * len]
    }

    /// The H x W plane of channel `c` of sample `n`.
    pub fn plane(&self, c: usize, n: usize) -> &[f32] {
        let len = self.shape.plane();
        &self.data[(c * self.n + n) * len..(c * self.n + n + 1) * len]
    }

    /// Index of element (c, n, y, x).
    #[inline]
    pub fn idx(&self, c: usize, n: usize, y: usize, x: usize) -> usize {
        ((c * self.n + n) * self.shape.h + y) * self.shape.w + x
    }
}
