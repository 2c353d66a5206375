package dev.flotilla.gateway.usage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
 *   committed                          8-byte offset + 4-byte CRC32C: every record below it is done
 * </pre>
 *
 * <p>A record is {@code int length | int crc32c(payload) | payload}. {@link #append} returns only
 * after {@code FileChannel.force(true)}; concurrent appenders share one force (group commit). The
 * committed file is replaced atomically (write a temporary file, force, rename, force the
 * directory), so it is never torn. On open, every segment is scanned: the first record whose header
 * or payload is short, or whose CRC does not match, marks a torn write; the segment is truncated
 * there. Offsets are positions in the log, so a truncated segment in the middle (disk corruption,
 * not a crash) leaves a gap that readers skip.
 */
public final class UsageSpool implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(UsageSpool.class);
  static final int HEADER_BYTES = 8;

  /** Larger lengths can only come from a corrupt header. */
  static final int MAX_RECORD_BYTES = 1 << 20;

  private static final Pattern SEGMENT_NAME = Pattern.compile("segment-(\\d{20})\\.log");
  private static final String COMMITTED = "committed";

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
  private final Object writeLock = new Object();
  private final Object forceLock = new Object();
  private final NavigableMap<Long, Segment> segments = new TreeMap<>();
  private Segment active;
  private FileChannel activeChannel;
  private long nextOffset;
  private volatile long committed;
  private volatile long durableOffset;
  private long truncatedBytes;
  // Sequential read cursor of the single reader: where offset cursorOffset starts.
  private long cursorOffset = -1;
  private long cursorSegment = -1;
  private long cursorPosition;

  private UsageSpool(Path dir, long segmentBytes) {
    this.dir = dir;
    this.segmentBytes = segmentBytes;
  }

  /** Opens (and recovers) the spool in {@code dir}, creating it when missing. */
  public static UsageSpool open(Path dir, long segmentBytes) throws IOException {
    UsageSpool spool = new UsageSpool(dir, segmentBytes);
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
        } else if (p.getFileName().toString().startsWith(COMMITTED + ".tmp")) {
          Files.deleteIfExists(p);
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
    deleteCommittedSegments();
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
   * @throws IOException when the disk write or force fails; the record is then not durable
   */
  public long append(byte[] payload) throws IOException {
    long offset = write(payload);
    forceUpTo(offset + 1);
    return offset;
  }

  /**
   * Appends records in order and returns once all of them are on stable storage: one force for the
   * lot. On an IOException none of them may be taken as durable.
   */
  public void appendAll(List<byte[]> payloads) throws IOException {
    long last = -1;
    for (byte[] payload : payloads) {
      last = write(payload);
    }
    if (last >= 0) {
      forceUpTo(last + 1);
    }
  }

  /** Writes one record to the active segment (not yet forced) and returns its offset. */
  private long write(byte[] payload) throws IOException {
    if (payload.length > MAX_RECORD_BYTES) {
      throw new IllegalArgumentException("record of " + payload.length + " bytes is too large");
    }
    synchronized (writeLock) {
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
      return nextOffset++;
    }
  }

  /** Forces the log so that every record below {@code end} is durable; one force serves many. */
  private void forceUpTo(long end) throws IOException {
    synchronized (forceLock) {
      if (durableOffset >= end) {
        return;
      }
      long target;
      FileChannel ch;
      synchronized (writeLock) {
        target = nextOffset;
        ch = activeChannel;
      }
      try {
        ch.force(true);
      } catch (ClosedChannelException rolled) {
        // roll() forced this channel before closing it.
      }
      durableOffset = Math.max(durableOffset, target);
    }
  }

  private void roll() throws IOException {
    activeChannel.force(true);
    activeChannel.close();
    active = newSegment(nextOffset);
    activeChannel = FileChannel.open(active.path, StandardOpenOption.WRITE);
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
        pos += HEADER_BYTES + header.getInt(0);
        at++;
      }
      long segEnd = Math.min(s.end(), limit);
      while (out.size() < max && at < segEnd) {
        header.clear();
        readFully(ch, header, pos);
        int length = header.getInt(0);
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
   * Marks every record below {@code offset} as done: persists the offset atomically and deletes
   * segments that hold only done records.
   */
  public void commit(long offset) throws IOException {
    if (offset <= committed) {
      return;
    }
    ByteBuffer buf = ByteBuffer.allocate(12);
    buf.putLong(offset).putInt(crc32c(buf.array(), 8)).flip();
    Path tmp = dir.resolve(COMMITTED + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
    try {
      Files.move(
          tmp,
          dir.resolve(COMMITTED),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("the spool directory must support atomic renames", e);
    }
    forceDirectory();
    committed = offset;
    synchronized (writeLock) {
      deleteCommittedSegments();
    }
  }

  private void deleteCommittedSegments() throws IOException {
    while (!segments.isEmpty()) {
      Segment first = segments.firstEntry().getValue();
      if (first == active || first.end() > committed) {
        return;
      }
      segments.remove(first.base);
      if (first.reader != null) {
        first.reader.close();
      }
      Files.deleteIfExists(first.path);
    }
  }

  private long readCommitted() throws IOException {
    Path p = dir.resolve(COMMITTED);
    if (!Files.exists(p)) {
      return 0;
    }
    byte[] b = Files.readAllBytes(p);
    ByteBuffer buf = ByteBuffer.wrap(b);
    if (b.length != 12 || crc32c(b, 8) != buf.getInt(8)) {
      // Cannot happen with atomic renames; resending everything beats losing events.
      LOG.warnf("usage spool: unreadable committed offset in %s; resending from the start", p);
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

  /** Bytes dropped from torn or corrupt records when the spool was opened. */
  public long truncatedBytesOnOpen() {
    return truncatedBytes;
  }

  @Override
  public void close() throws IOException {
    synchronized (forceLock) {
      synchronized (writeLock) {
        activeChannel.force(true);
        activeChannel.close();
        for (Segment s : segments.values()) {
          if (s.reader != null) {
            s.reader.close();
            s.reader = null;
          }
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
