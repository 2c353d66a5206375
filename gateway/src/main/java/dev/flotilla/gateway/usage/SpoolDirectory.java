package dev.flotilla.gateway.usage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The spool volume: one subdirectory per spool, each owned by whichever process holds the lock on
 * its {@code owner.lock} file. Several gateways may share the volume (a ReadWriteMany claim, or a
 * replacement pod starting while the old one still stops): each {@link #claim claims} a
 * subdirectory no live process holds, preferring one that already exists, so a replacement adopts
 * and sends what its predecessor left. Subdirectories are named {@code spool-<n>}, never after a
 * pod; one that no one holds but still has events is {@link #claimOrphans drained} by another
 * gateway.
 *
 * <p>The lock is an OS file lock ({@code fcntl}): the kernel (or the NFS server, after its lease)
 * drops it when the holder dies, so a killed gateway never keeps its spool from its successor.
 * Subdirectories are never deleted, because a process that opened {@code owner.lock} just before a
 * deletion would lock a file that no longer guards the directory; an empty one costs a few bytes
 * and is the first a newcomer takes.
 */
public final class SpoolDirectory {
  static final String LOCK_FILE = "owner.lock";
  private static final String PREFIX = "spool-";

  private final Path root;

  public SpoolDirectory(Path root) {
    this.root = root;
  }

  /** A subdirectory and the lock that makes it this process's own until {@link #close}. */
  public static final class Claim implements AutoCloseable {
    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;

    private Claim(Path dir, FileChannel channel, FileLock lock) {
      this.dir = dir;
      this.channel = channel;
      this.lock = lock;
    }

    public Path dir() {
      return dir;
    }

    @Override
    public void close() throws IOException {
      try {
        lock.release();
      } finally {
        channel.close();
      }
    }
  }

  /**
   * Claims a free subdirectory for {@code owner} (written into the lock file for people to read):
   * the first existing one whose lock is free, else a new one.
   */
  public Claim claim(String owner) throws IOException {
    Files.createDirectories(root);
    for (Path dir : subdirectories()) {
      Optional<Claim> c = tryLock(dir, owner);
      if (c.isPresent()) {
        return c.get();
      }
    }
    for (int n = 0; ; n++) {
      Path dir = root.resolve(PREFIX + n);
      try {
        Files.createDirectory(dir);
      } catch (FileAlreadyExistsException taken) {
        continue;
      }
      Optional<Claim> c = tryLock(dir, owner);
      if (c.isPresent()) {
        return c.get();
      }
    }
  }

  /**
   * Claims every subdirectory other than {@code own} that no live process holds; the caller sends
   * what they hold and closes the claims.
   */
  public List<Claim> claimOrphans(Path own, String owner) throws IOException {
    List<Claim> out = new ArrayList<>();
    for (Path dir : subdirectories()) {
      if (!dir.equals(own)) {
        tryLock(dir, owner).ifPresent(out::add);
      }
    }
    return out;
  }

  /**
   * Every spool folder, in name order: the {@code spool-<n>} ones and any other folder that holds
   * segments (as older gateways named theirs after the pod), but not what else a volume may hold,
   * such as {@code lost+found}.
   */
  private List<Path> subdirectories() throws IOException {
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(Files::isDirectory).filter(SpoolDirectory::isSpool).sorted().toList();
    }
  }

  private static boolean isSpool(Path dir) {
    if (dir.getFileName().toString().startsWith(PREFIX)) {
      return true;
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files.anyMatch(f -> f.getFileName().toString().startsWith("segment-"));
    } catch (IOException unreadable) {
      return false;
    }
  }

  private static Optional<Claim> tryLock(Path dir, String owner) throws IOException {
    FileChannel ch =
        FileChannel.open(
            dir.resolve(LOCK_FILE),
            StandardOpenOption.CREATE,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException heldInThisJvm) {
      lock = null;
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    if (lock == null) {
      ch.close();
      return Optional.empty();
    }
    try {
      ch.truncate(0);
      ch.write(ByteBuffer.wrap((owner + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    } catch (IOException e) {
      // The name is for people reading the volume; a full disk must not cost the claim.
    }
    return Optional.of(new Claim(dir, ch, lock));
  }
}
