//! The record count of a dump file, guessed from its length, so a load sizes the channel's
//! index once.

/// How many records a dump file holds, guessed from its length (the format has no count): once
/// [`SAMPLE_RECORDS`] records are read, the file's length over their mean size, plus 1/16, so
/// the channel's index is sized once instead of doubling its way up (each doubling rehashes
/// every record so far). A poor guess costs only time or transient memory: more records than
/// guessed grow the index as usual, far fewer give the extra room back at the end
/// (`Storage::shrink_index`). Never more than the file could hold at the smallest record
/// (8-byte key length and key, 8-byte value length, no value: 24 bytes).
#[derive(Debug)]
pub(super) struct Estimate {
    file_len: u64,
    done: bool,
}

/// Records read before the guess: enough for a mean, few enough to matter little if the index
/// grows meanwhile.
const SAMPLE_RECORDS: u64 = 4096;
/// The smallest record a `.tcm` file can hold.
const MIN_RECORD_BYTES: u64 = 24;

impl Estimate {
    pub(super) fn new(file_len: u64) -> Estimate {
        Estimate {
            file_len,
            done: false,
        }
    }

    /// The guessed total once `read` records took `bytes` bytes of the file (version field
    /// included), exactly once; `None` before and after.
    pub(super) fn after(&mut self, read: u64, bytes: u64) -> Option<usize> {
        if self.done || read < SAMPLE_RECORDS {
            return None;
        }
        self.done = true;
        let per_record = (bytes / read).max(MIN_RECORD_BYTES);
        let guess = self.file_len / per_record;
        let guess = guess + guess / 16;
        let guess = guess.min(self.file_len / MIN_RECORD_BYTES).max(read);
        usize::try_from(guess).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_once_after_the_sample_from_the_mean_record() {
        // 100-byte records of 132 bytes each in a file of 1,320,000,008 bytes: 10 M records.
        let mut e = Estimate::new(1_320_000_008);
        assert_eq!(
            e.after(SAMPLE_RECORDS - 1, 8 + 132 * (SAMPLE_RECORDS - 1)),
            None
        );
        let guess = e.after(SAMPLE_RECORDS, 8 + 132 * SAMPLE_RECORDS).unwrap();
        assert_eq!(guess, 10_000_000 + 10_000_000 / 16);
        assert_eq!(
            e.after(2 * SAMPLE_RECORDS, 8 + 132 * 2 * SAMPLE_RECORDS),
            None
        );
    }

    #[test]
    fn the_guess_is_bounded_by_the_smallest_record_and_by_what_was_read() {
        // Empty values with 8-byte keys: 24 bytes a record, the bound itself.
        let mut e = Estimate::new(24 * 1_000_000 + 8);
        assert_eq!(
            e.after(SAMPLE_RECORDS, 24 * SAMPLE_RECORDS),
            Some(1_000_000)
        );
        // The sample already took the whole (short) file: never less than was read.
        let mut e = Estimate::new(100);
        assert_eq!(e.after(SAMPLE_RECORDS, 100), Some(SAMPLE_RECORDS as usize));
    }
}
