package dev.flotilla.gateway.usage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.jboss.logging.Logger;

/**
 * A write-ahead spool: an append-only log of opaque records on local disk, read in order and
 * trimmed once a consumer (the Kafka sender) has committed an offset.
 *
 * <p>Layout of {@code dir}:
 *
 * <pre>
 *   segment-00000000000000000000.log   records with offsets 0..k-1
 *   segment-0000000000000000000k.log   records with offsets k..
 *   committed-a, committed-b           8-byte offset + 4-byte CRC32C: every record below the
 *                                      higher whole one is done
 * </pre>
 *
 * <p>A record is {@code int length | int crc32c(payload) | payload}. {@link #appendAll} writes a
 * batch and returns only after {@code FileChannel.force(true)}; readers see a record only once it
 * is forced. When a write or the force fails (a full disk, an I/O error), the batch is not in the
 * spool: the bytes it left are cut off before anything else is written, so no record ever follows a
 * torn one, and nothing that failed to force is read or sent. The segment files together stay under
 * a size limit: past it appends fail with {@link SpoolFullException}. The committed offset is
 * written in place into the older of two copies and forced: a torn write spoils one copy, never
 * both, and trimming needs no new disk block, so it frees space even on a full disk. On open, every
 * segment is scanned: the first record whose header or payload is short, whose length is out of
 * bounds, or whose CRC does not match, marks a torn write; the segment is truncated there. Offsets
 * are positions in the log, so a truncated segment in the middle (disk corruption, not a crash)
 * leaves a gap that readers skip. A length read later is checked against the segment before
 * anything is allocated for it.
 *
 * <p>One process uses a spool directory at a time; {@link SpoolDirectory} hands them out.
 */
public final class UsageSpool implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(UsageSpool.class);
  static final int HEADER_BYTES = 8;

  /** Larger lengths can only come from a corrupt header. */
  static final int MAX_RECORD_BYTES = 1 << 20;

  /** Share of the size limit at which the spool logs a WARN: time to look at Kafka. */
  public static final double WARN_FRACTION = 0.8;

  /** Below this share of the limit, the next approach to it is logged again. */
  private static final double REARM_FRACTION = 0.7;

  private static final Pattern SEGMENT_NAME = Pattern.compile("segment-(\\d{20})\\.log");

  /** Two copies of the committed offset, overwritten in turn. */
  private static final String[] COMMITTED_COPIES = {"committed-a", "committed-b"};

  private static final String LEGACY_COMMITTED = "committed";
  private static final int COMMITTED_BYTES = 12;

  /** A record read back: its offset and payload. */
  public record Entry(long offset, byte[] payload) {}

  private static final class Segment {
    final long base;
    final Path path;
    long count;
    long bytes;
    FileChannel reader;

    Segment(long base, Path path) {
      this.base = base;
      this.path = path;
    }

    long end() {
      return base + count;
    }
  }

  private final Path dir;
  private final long segmentBytes;
  private final long maxBytes;
  private final Object writeLock = new Object();
  private final NavigableMap<Long, Segment> segments = new TreeMap<>();
  private Segment active;
  private FileChannel activeChannel;
  private long nextOffset;
  private volatile long committed;
  private int committedCopy; // index of the copy the last commit wrote; the sender's alone
  private volatile long durableOffset;
  private volatile long totalBytes; // bytes of every segment file; written under writeLock
  private Rollback torn; // guarded by writeLock
  private boolean nearlyFullLogged; // guarded by writeLock
  private boolean fullLogged; // guarded by writeLock
  private long truncatedBytes;
  // Sequential read cursor of the single reader: where offset cursorOffset starts.
  private long cursorOffset = -1;
  private long cursorSegment = -1;
  private long cursorPosition;

  private UsageSpool(Path dir, long segmentBytes, long maxBytes) {
    this.dir = dir;
    this.segmentBytes = segmentBytes;
    this.maxBytes = maxBytes;
  }

  /** Opens (and recovers) the spool in {@code dir}, creating it when missing; no size limit. */
  public static UsageSpool open(Path dir, long segmentBytes) throws IOException {
    return open(dir, segmentBytes, Long.MAX_VALUE);
  }

  /**
   * Opens (and recovers) the spool in {@code dir}, creating it when missing.
   *
   * @param maxBytes the most its segment files may hold together: an append that would pass it
   *     fails with {@link SpoolFullException}; a WARN is logged at {@link #WARN_FRACTION} of it
   */
  public static UsageSpool open(Path dir, long segmentBytes, long maxBytes) throws IOException {
    UsageSpool spool = new UsageSpool(dir, segmentBytes, maxBytes);
    spool.recover();
    return spool;
  }

  private void recover() throws IOException {
    Files.createDirectories(dir);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Matcher m = SEGMENT_NAME.matcher(p.getFileName().toString());
        if (m.matches()) {
          long base = Long.parseLong(m.group(1));
          segments.put(base, new Segment(base, p));
        }
      }
    }
    for (Segment s : segments.values()) {
      scan(s);
    }
    long committedOnDisk = readCommitted();
    long first = segments.isEmpty() ? committedOnDisk : segments.firstKey();
    long end = segments.isEmpty() ? committedOnDisk : segments.lastEntry().getValue().end();
    nextOffset = Math.max(end, committedOnDisk);
    // Segments below the first one on disk were deleted after being committed.
    committed = Math.min(Math.max(committedOnDisk, first), nextOffset);
    durableOffset = nextOffset;
    for (int i = 0; i < COMMITTED_COPIES.length; i++) {
      if (!Files.exists(dir.resolve(COMMITTED_COPIES[i]))) {
        // Allocated now, while there is room, so that commits never need a new block.
        writeCommittedCopy(i, committed);
        forceDirectory();
      }
    }
    deleteCommittedSegments();
    totalBytes = segments.values().stream().mapToLong(s -> s.bytes).sum();
    Segment last = segments.isEmpty() ? null : segments.lastEntry().getValue();
    if (last != null && last.count == 0 && last.base == nextOffset) {
      active = last;
    } else {
      active = newSegment(nextOffset);
    }
    activeChannel = FileChannel.open(active.path, StandardOpenOption.WRITE);
    activeChannel.position(active.bytes);
  }

  /** Validates every record of a segment and truncates it at the first torn or corrupt one. */
  private void scan(Segment s) throws IOException {
    try (FileChannel ch =
        FileChannel.open(s.path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long size = ch.size();
      long pos = 0;
      long count = 0;
      ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
      while (pos < size) {
        if (size - pos < HEADER_BYTES) {
          break;
        }
        header.clear();
        readFully(ch, header, pos);
        int length = header.getInt(0);
        int crc = header.getInt(4);
        if (length < 0 || length > MAX_RECORD_BYTES || size - pos - HEADER_BYTES < length) {
          break;
        }
        ByteBuffer payload = ByteBuffer.allocate(length);
        readFully(ch, payload, pos + HEADER_BYTES);
        if (crc32c(payload.array()) != crc) {
          break;
        }
        pos += HEADER_BYTES + length;
        count++;
      }
      if (pos < size) {
        LOG.warnf(
            "usage spool %s: dropping %d bytes of a torn or corrupt record at byte %d"
                + " (%d valid records kept)",
            s.path.getFileName(), size - pos, pos, count);
        truncatedBytes += size - pos;
        ch.truncate(pos);
        ch.force(true);
      }
      s.count = count;
      s.bytes = pos;
    }
  }

  /**
   * Appends one record and returns its offset once it is on stable storage.
   *
   * @throws IOException when the disk write or force fails, or the spool is full; the record is
   *     then not in the spool
   */
  public long append(byte[] payload) throws IOException {
    synchronized (writeLock) {
      appendAll(List.of(payload));
      return nextOffset - 1;
    }
  }

  /**
   * Appends records in order and returns once all of them are on stable storage: one force for the
   * lot. On an IOException none of them is in the spool: whatever part of them reached the files is
   * cut off again before the next append, so no record ever follows a torn one.
   */
  public void appendAll(List<byte[]> payloads) throws IOException {
    long needed = 0;
    for (byte[] payload : payloads) {
      if (payload.length > MAX_RECORD_BYTES) {
        throw new IllegalArgumentException("record of " + payload.length + " bytes is too large");
      }
      needed += HEADER_BYTES + payload.length;
    }
    if (payloads.isEmpty()) {
      return;
    }
    synchronized (writeLock) {
      repairIfTorn();
      if (totalBytes + needed > maxBytes) {
        full(needed);
      }
      torn = new Rollback(active.base, active.bytes, active.count, nextOffset);
      try {
        for (byte[] payload : payloads) {
          if (active.bytes >= segmentBytes) {
            roll();
          }
          ByteBuffer buf = ByteBuffer.allocate(HEADER_BYTES + payload.length);
          buf.putInt(payload.length).putInt(crc32c(payload)).put(payload).flip();
          while (buf.hasRemaining()) {
            activeChannel.write(buf);
          }
          active.bytes += HEADER_BYTES + payload.length;
          active.count++;
          totalBytes += HEADER_BYTES + payload.length;
          nextOffset++;
        }
        activeChannel.force(true);
      } catch (IOException e) {
        try {
          repairIfTorn();
        } catch (IOException notYet) {
          e.addSuppressed(notYet); // tried again before the next append
        }
        throw e;
      }
      torn = null;
      durableOffset = nextOffset;
      warnWhenNearlyFull();
    }
  }

  /** Where the spool stood before an append that failed part way; null when none did. */
  private record Rollback(long segmentBase, long bytes, long count, long nextOffset) {}

  /**
   * Cuts off what a failed append left: segments it started, and the bytes it wrote to the one that
   * was active. Until this succeeds, no append writes anything.
   */
  private void repairIfTorn() throws IOException {
    if (torn == null) {
      return;
    }
    Rollback r = torn;
    try {
      activeChannel.close();
      for (Segment s : List.copyOf(segments.tailMap(r.segmentBase(), false).values())) {
        segments.remove(s.base);
        if (s.reader != null) {
          s.reader.close();
        }
        Files.deleteIfExists(s.path);
      }
      active = segments.get(r.segmentBase());
      activeChannel = FileChannel.open(active.path, StandardOpenOption.WRITE);
      activeChannel.truncate(r.bytes());
      activeChannel.position(r.bytes());
      activeChannel.force(true);
      active.bytes = r.bytes();
      active.count = r.count();
      nextOffset = r.nextOffset();
      totalBytes = segments.values().stream().mapToLong(s -> s.bytes).sum();
      torn = null;
    } catch (IOException e) {
      throw new IOException("the usage spool cannot cut off a failed write: " + e, e);
    }
  }

  private void full(long needed) throws SpoolFullException {
    if (!fullLogged) {
      fullLogged = true;
      LOG.errorf(
          "usage spool %s is full (%d of %d bytes): usage events are refused until Kafka takes"
              + " what it holds",
          dir, totalBytes, maxBytes);
    }
    throw new SpoolFullException(
        "the usage spool is full: "
            + totalBytes
            + " of "
            + maxBytes
            + " bytes used, "
            + needed
            + " more needed");
  }

  private void warnWhenNearlyFull() {
    if (!nearlyFullLogged && totalBytes >= maxBytes * WARN_FRACTION) {
      nearlyFullLogged = true;
      LOG.warnf(
          "usage spool %s is %d%% full (%d of %d bytes): Kafka is not taking usage events fast"
              + " enough; at 100%% new events are refused",
          dir, totalBytes * 100 / maxBytes, totalBytes, maxBytes);
    }
  }

  /** Thrown when an append would take the spool past its size limit. */
  public static final class SpoolFullException extends IOException {
    SpoolFullException(String message) {
      super(message);
    }
  }

  /** Starts a new active segment; on failure the old one stays active. */
  private void roll() throws IOException {
    activeChannel.force(true);
    Segment next = newSegment(nextOffset);
    FileChannel ch;
    try {
      ch = FileChannel.open(next.path, StandardOpenOption.WRITE);
    } catch (IOException e) {
      segments.remove(next.base);
      Files.deleteIfExists(next.path);
      throw e;
    }
    activeChannel.close();
    active = next;
    activeChannel = ch;
  }

  private Segment newSegment(long base) throws IOException {
    Path path = dir.resolve(String.format("segment-%020d.log", base));
    Files.newByteChannel(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE).close();
    forceDirectory();
    Segment s = new Segment(base, path);
    segments.put(base, s);
    return s;
  }

  /**
   * Reads up to {@code max} durable records starting at {@code from} (or at the next offset present
   * after it). Meant for one reader thread: sequential reads reuse a cursor.
   */
  public List<Entry> read(long from, int max) throws IOException {
    List<Entry> out = new ArrayList<>();
    long limit = durableOffset;
    long offset = Math.max(from, committed);
    ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
    while (out.size() < max && offset < limit) {
      Segment s;
      FileChannel ch;
      synchronized (writeLock) {
        Map.Entry<Long, Segment> e = segments.floorEntry(offset);
        if (e == null) {
          Long higher = segments.ceilingKey(offset);
          if (higher == null) {
            break;
          }
          offset = higher;
          continue;
        }
        s = e.getValue();
        if (offset >= s.end()) {
          Long higher = segments.higherKey(s.base);
          if (higher == null) {
            break;
          }
          offset = higher;
          continue;
        }
        if (s.reader == null) {
          s.reader = FileChannel.open(s.path, StandardOpenOption.READ);
        }
        ch = s.reader;
      }
      long pos;
      long at;
      if (cursorOffset == offset && cursorSegment == s.base) {
        pos = cursorPosition;
        at = offset;
      } else {
        pos = 0;
        at = s.base;
      }
      while (at < offset) { // skip to the requested offset
        header.clear();
        readFully(ch, header, pos);
        pos += HEADER_BYTES + checkedLength(header.getInt(0), at, pos, s);
        at++;
      }
      long segEnd = Math.min(s.end(), limit);
      while (out.size() < max && at < segEnd) {
        header.clear();
        readFully(ch, header, pos);
        int length = checkedLength(header.getInt(0), at, pos, s);
        ByteBuffer payload = ByteBuffer.allocate(length);
        readFully(ch, payload, pos + HEADER_BYTES);
        if (crc32c(payload.array()) != header.getInt(4)) {
          throw new IOException("usage spool record " + at + " changed on disk (CRC mismatch)");
        }
        out.add(new Entry(at, payload.array()));
        pos += HEADER_BYTES + length;
        at++;
      }
      offset = at;
      cursorOffset = at;
      cursorPosition = pos;
      cursorSegment = s.base;
    }
    return out;
  }

  /**
   * A record's length as its header says, once it is known to fit the segment: a header changed on
   * disk must not make the reader allocate what it says.
   */
  private static int checkedLength(int length, long offset, long pos, Segment s)
      throws IOException {
    if (length < 0 || length > MAX_RECORD_BYTES || pos + HEADER_BYTES + length > s.bytes) {
      throw new IOException(
          "usage spool record "
              + offset
              + " changed on disk: its header gives a length of "
              + length
              + " bytes at byte "
              + pos
              + " of a "
              + s.bytes
              + "-byte segment");
    }
    return length;
  }

  /**
   * Marks every record below {@code offset} as done: persists the offset atomically and deletes
   * segments that hold only done records.
   */
  public void commit(long offset) throws IOException {
    if (offset <= committed) {
      return;
    }
    // Overwrite the older copy in place: no new block is needed, so trimming works on a full disk,
    // and a torn write leaves the other copy whole.
    writeCommittedCopy(committedCopy ^ 1, offset);
    committedCopy ^= 1;
    committed = offset;
    synchronized (writeLock) {
      deleteCommittedSegments();
    }
  }

  private void deleteCommittedSegments() throws IOException {
    while (!segments.isEmpty()) {
      Segment first = segments.firstEntry().getValue();
      if (first == active
          || first.end() > committed
          || (torn != null && first.base >= torn.segmentBase())) {
        return;
      }
      segments.remove(first.base);
      if (first.reader != null) {
        first.reader.close();
      }
      Files.deleteIfExists(first.path);
      totalBytes -= first.bytes;
      if (totalBytes < maxBytes * REARM_FRACTION) {
        nearlyFullLogged = false;
        fullLogged = false;
      }
    }
  }

  /**
   * The higher offset of the two copies that read back whole (and of the single {@code committed}
   * file older spools wrote); 0 when none does, which resends rather than loses. Also picks the
   * copy the next commit overwrites: the other one.
   */
  private long readCommitted() throws IOException {
    long best = 0;
    committedCopy = 1;
    for (int i = 0; i < COMMITTED_COPIES.length; i++) {
      Path p = dir.resolve(COMMITTED_COPIES[i]);
      long offset = readCommittedCopy(p);
      if (offset > best) {
        best = offset;
        committedCopy = i;
      }
    }
    Path legacy = dir.resolve(LEGACY_COMMITTED);
    long old = readCommittedCopy(legacy);
    Files.deleteIfExists(dir.resolve(LEGACY_COMMITTED + ".tmp"));
    if (old > best) {
      committed = 0;
      commit(old); // into a copy, before the old file goes
      best = old;
    }
    Files.deleteIfExists(legacy);
    return best;
  }

  private void writeCommittedCopy(int copy, long offset) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(COMMITTED_BYTES);
    buf.putLong(offset).putInt(crc32c(buf.array(), 8)).flip();
    try (FileChannel ch =
        FileChannel.open(
            dir.resolve(COMMITTED_COPIES[copy]),
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE)) {
      while (buf.hasRemaining()) {
        ch.write(buf, buf.position());
      }
      ch.force(true);
    }
  }

  private static long readCommittedCopy(Path p) throws IOException {
    if (!Files.exists(p)) {
      return 0;
    }
    byte[] b = Files.readAllBytes(p);
    ByteBuffer buf = ByteBuffer.wrap(b);
    if (b.length != COMMITTED_BYTES || crc32c(b, 8) != buf.getInt(8)) {
      LOG.warnf("usage spool: %s does not read back whole; the other copy decides", p);
      return 0;
    }
    return buf.getLong(0);
  }

  /** The offset below which every record is done. */
  public long committedOffset() {
    return committed;
  }

  /** The offset the next appended record gets. */
  public long nextOffset() {
    synchronized (writeLock) {
      return nextOffset;
    }
  }

  /** The offset below which every record is on stable storage. */
  public long durableOffset() {
    return durableOffset;
  }

  /** Records appended and not yet committed. */
  public long depth() {
    synchronized (writeLock) {
      return Math.max(0, nextOffset - committed);
    }
  }

  /** Bytes its segment files hold: the records not yet trimmed, done or not. */
  public long bytes() {
    return totalBytes;
  }

  /** The size limit: appends that would pass it fail. */
  public long maxBytes() {
    return maxBytes;
  }

  /** The directory it lives in. */
  public Path dir() {
    return dir;
  }

  /** Bytes dropped from torn or corrupt records when the spool was opened. */
  public long truncatedBytesOnOpen() {
    return truncatedBytes;
  }

  @Override
  public void close() throws IOException {
    synchronized (writeLock) {
      if (torn != null) {
        repairIfTorn();
      }
      activeChannel.close();
      for (Segment s : segments.values()) {
        if (s.reader != null) {
          s.reader.close();
          s.reader = null;
        }
      }
    }
  }

  private void forceDirectory() throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // Some file systems cannot open a directory for fsync; the rename is still atomic there.
      LOG.debugf("usage spool: cannot force directory %s: %s", dir, e.getMessage());
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos + buf.position());
      if (n < 0) {
        throw new IOException("unexpected end of usage spool segment");
      }
    }
  }

  static int crc32c(byte[] bytes) {
    return crc32c(bytes, bytes.length);
  }

  static int crc32c(byte[] bytes, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, length);
    return (int) crc.getValue();
  }
}
