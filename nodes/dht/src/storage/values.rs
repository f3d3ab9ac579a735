//! Where a channel's values live: slabs of exact-size cells, one slab per size class (the value
//! length rounded up to 8 bytes), so a 100-byte value takes 104 bytes and no allocation of its
//! own. A value is addressed by its length (which names the class) and a cell number in the
//! class; freed cells are reused by the next value of the same class. Slabs grow in chunks that
//! never move, so growing never copies stored values.

/// Bytes of cells per chunk once a class is large (4 MiB: huge pages, see `hugepages`); small
/// classes start with small chunks that double, so a small channel stays small.
pub(super) const CHUNK_BYTES: usize = 4 << 20;
/// Cells of a class's first chunk (chunks then double up to [`CHUNK_BYTES`]).
const FIRST_CHUNK_CELLS: usize = 4;

/// Cell size of a value length.
fn cell_size(len: usize) -> usize {
    len.div_ceil(8) * 8
}

/// How a class's cells are laid out: chunk `i` holds `min(first << i, max)` cells, so a cell's
/// chunk and offset follow from its number with a few integer operations.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    first: u32,
    max: u32,
    /// Chunks smaller than `max` (the doubling prefix).
    doubling: u32,
    /// Cells in the doubling prefix.
    prefix: u32,
}

impl Geometry {
    fn new(size: usize) -> Self {
        let max = (CHUNK_BYTES / size).max(1) as u32;
        let first = (FIRST_CHUNK_CELLS as u32).min(max);
        let mut doubling = 0;
        while (first << doubling) < max {
            doubling += 1;
        }
        Geometry {
            first,
            max,
            doubling,
            prefix: first * ((1 << doubling) - 1),
        }
    }

    /// Cells of chunk `i`.
    fn chunk_cells(&self, i: usize) -> usize {
        if i < self.doubling as usize {
            (self.first << i) as usize
        } else {
            self.max as usize
        }
    }

    /// Chunk and offset in it of `cell`.
    fn locate(&self, cell: u32) -> (usize, usize) {
        if cell < self.prefix {
            // Chunk i starts at first * (2^i - 1).
            let i = (cell / self.first + 1).ilog2();
            (i as usize, (cell - self.first * ((1 << i) - 1)) as usize)
        } else {
            let rest = cell - self.prefix;
            (
                (self.doubling + rest / self.max) as usize,
                (rest % self.max) as usize,
            )
        }
    }
}

#[derive(Debug)]
struct Class {
    geometry: Geometry,
    chunks: Vec<Box<[u8]>>,
    /// Cells handed out so far (used or free).
    cells: u32,
    free: Vec<u32>,
}

impl Class {
    fn new(size: usize) -> Self {
        Class {
            geometry: Geometry::new(size),
            chunks: Vec::new(),
            cells: 0,
            free: Vec::new(),
        }
    }

    fn locate(&self, cell: u32) -> (usize, usize) {
        self.geometry.locate(cell)
    }

    fn alloc(&mut self, size: usize) -> u32 {
        if let Some(cell) = self.free.pop() {
            return cell;
        }
        let (chunk, _) = self.locate(self.cells);
        if chunk == self.chunks.len() {
            let cells = self.geometry.chunk_cells(chunk);
            let bytes = cells * size;
            // A full-size chunk may come with its pages already faulted in (a dump load).
            let ready = (bytes > CHUNK_BYTES / 2 && bytes <= CHUNK_BYTES)
                .then(super::prefault::take_chunk)
                .flatten();
            self.chunks
                .push(ready.unwrap_or_else(|| vec![0u8; bytes].into_boxed_slice()));
        }
        self.cells += 1;
        self.cells - 1
    }
}

/// All size classes of one channel.
#[derive(Debug, Default)]
pub struct Values {
    classes: Vec<Class>,
}

impl Values {
    fn class_of(len: usize) -> usize {
        len.div_ceil(8)
    }

    /// Stores `value`; its cell number. Empty values take no cell.
    pub fn insert(&mut self, value: &[u8]) -> u32 {
        if value.is_empty() {
            return 0;
        }
        let c = Self::class_of(value.len());
        while self.classes.len() <= c {
            let size = self.classes.len() * 8;
            self.classes.push(Class::new(size.max(8)));
        }
        let size = cell_size(value.len());
        let class = &mut self.classes[c];
        let cell = class.alloc(size);
        let (i, off) = class.locate(cell);
        class.chunks[i][off * size..off * size + value.len()].copy_from_slice(value);
        cell
    }

    /// The value of `len` bytes in `cell`.
    pub fn get(&self, len: usize, cell: u32) -> &[u8] {
        if len == 0 {
            return &[];
        }
        let size = cell_size(len);
        let class = &self.classes[Self::class_of(len)];
        let (i, off) = class.locate(cell);
        &class.chunks[i][off * size..off * size + len]
    }

    /// Asks the CPU to fetch the value of `len` bytes in `cell` (its first and last line).
    #[inline]
    pub fn prefetch(&self, len: usize, cell: u32) {
        let value = self.get(len, cell);
        if let (Some(first), Some(last)) = (value.first(), value.last()) {
            super::prefetch(first);
            super::prefetch(last);
        }
    }

    /// Overwrites the value in `cell` with one of the same length.
    pub fn overwrite(&mut self, cell: u32, value: &[u8]) {
        if value.is_empty() {
            return;
        }
        let size = cell_size(value.len());
        let class = &mut self.classes[Self::class_of(value.len())];
        let (i, off) = class.locate(cell);
        class.chunks[i][off * size..off * size + value.len()].copy_from_slice(value);
    }

    /// Frees the cell of a value of `len` bytes.
    pub fn free(&mut self, len: usize, cell: u32) {
        if len > 0 {
            self.classes[Self::class_of(len)].free.push(cell);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_exact_size_and_reused() {
        let mut v = Values::default();
        let a = v.insert(b"hello");
        let b = v.insert(b"world!!!");
        let c = v.insert(&[7u8; 100]);
        assert_eq!(v.get(5, a), b"hello");
        assert_eq!(v.get(8, b), b"world!!!");
        assert_eq!(v.get(100, c), &[7u8; 100][..]);
        v.free(5, a);
        let d = v.insert(b"12345678"); // same class as "hello" (8-byte cells)
        assert_eq!(d, a, "the freed cell is reused");
        assert_eq!(v.get(8, d), b"12345678");
        assert_eq!(v.get(8, b), b"world!!!", "neighbours untouched");
        v.overwrite(c, &[9u8; 100]);
        assert_eq!(v.get(100, c), &[9u8; 100][..]);
        assert_eq!(v.get(0, 0), b"");
    }

    #[test]
    fn geometry_matches_a_walk_over_the_chunks() {
        for size in [8usize, 104, 1000, 40_000, 70_000] {
            let g = Geometry::new(size);
            let mut cell = 0u32;
            for chunk in 0..40 {
                for off in 0..g.chunk_cells(chunk) {
                    assert_eq!(g.locate(cell), (chunk, off), "size {size} cell {cell}");
                    cell += 1;
                }
            }
        }
    }

    #[test]
    fn many_values_across_growing_chunks() {
        let mut v = Values::default();
        let cells: Vec<(usize, u32)> = (0..20_000usize)
            .map(|i| {
                let len = 1 + i % 300;
                (len, v.insert(&vec![(i % 251) as u8; len]))
            })
            .collect();
        for (i, (len, cell)) in cells.iter().enumerate() {
            assert_eq!(v.get(*len, *cell), &vec![(i % 251) as u8; *len][..]);
        }
        let big = v.insert(&vec![3u8; 200_000]);
        assert_eq!(v.get(200_000, big).len(), 200_000);
    }
}
