//! Where a channel's values live: slabs of exact-size cells, one slab per size class (the value
//! length rounded up to 8 bytes), so a 100-byte value takes 104 bytes and no allocation of its
//! own. A value is addressed by its length (which names the class) and a cell number in the
//! class; freed cells are reused by the next value of the same class. Slabs grow in chunks that
//! never move, so growing never copies stored values.

/// Bytes of cells per chunk once a class is large; small classes start with small chunks.
const CHUNK_BYTES: usize = 64 * 1024;
/// Cells of a class's first chunk (chunks then double up to [`CHUNK_BYTES`]).
const FIRST_CHUNK_CELLS: usize = 4;

/// Cell size of a value length.
fn cell_size(len: usize) -> usize {
    len.div_ceil(8) * 8
}

#[derive(Debug, Default)]
struct Class {
    /// Chunk `i` holds cells `starts[i]..starts[i + 1]`.
    chunks: Vec<Box<[u8]>>,
    starts: Vec<u32>,
    /// Cells handed out so far (used or free).
    cells: u32,
    free: Vec<u32>,
}

impl Class {
    fn locate(&self, cell: u32) -> (usize, usize) {
        let i = self
            .starts
            .partition_point(|&s| s <= cell)
            .saturating_sub(1);
        (i, (cell - self.starts[i]) as usize)
    }

    fn alloc(&mut self, size: usize) -> u32 {
        if let Some(cell) = self.free.pop() {
            return cell;
        }
        let capacity = match (self.chunks.last(), self.starts.last()) {
            (Some(c), Some(&s)) => s as usize + c.len() / size,
            _ => 0,
        };
        if self.cells as usize == capacity {
            let last = self.chunks.last().map_or(0, |c| c.len() / size);
            let max = (CHUNK_BYTES / size).max(1);
            let cells = (last * 2).clamp(FIRST_CHUNK_CELLS.min(max), max);
            self.starts.push(self.cells);
            self.chunks.push(vec![0u8; cells * size].into_boxed_slice());
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
        if self.classes.len() <= c {
            self.classes.resize_with(c + 1, Class::default);
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
