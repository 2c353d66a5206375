package dev.flotilla.worker.fetch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The directory downloads land in, laid out like the Hugging Face cache: {@code
 * hf/models--ORG--REPO/snapshots/COMMIT/FILE} with {@code refs/REVISION} holding the commit a
 * revision last resolved to, and {@code s3/BUCKET/PREFIX-HASH/VERSION/FILE} for S3, where VERSION
 * hashes the objects' keys, sizes and ETags. A file is written as {@code FILE.part}, checked, and
 * renamed into place: a file without the suffix is complete and checked, a {@code .part} file is
 * where an interrupted download resumes.
 */
public final class DownloadCache {
  private static final ConcurrentHashMap<Path, ReentrantLock> HELD = new ConcurrentHashMap<>();

  private final Path root;

  /** Held while one fetch writes a directory; released by {@link #close}. */
  public interface Lock extends AutoCloseable {
    @Override
    void close() throws IOException;
  }

  /**
   * Locks {@code dir} against other fetches, in this process and in others sharing the cache (the
   * replicas of a deployment on one cache claim): two writers appending to one {@code .part} file
   * would corrupt it. Waits for the lock.
   */
  static Lock lock(Path dir) throws IOException {
    Path file = dir.resolveSibling(dir.getFileName() + ".lock");
    Files.createDirectories(dir.getParent());
    ReentrantLock local = HELD.computeIfAbsent(file.toAbsolutePath(), k -> new ReentrantLock());
    local.lock();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock held = channel.lock();
      FileChannel opened = channel;
      return () -> {
        try {
          held.release();
          opened.close();
        } finally {
          local.unlock();
        }
      };
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      local.unlock();
      throw e;
    }
  }

  public DownloadCache(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  Path hubRepo(String repo) {
    return root.resolve("hf").resolve("models--" + repo.replace("/", "--"));
  }

  Path hubSnapshot(String repo, String commit) {
    return hubRepo(repo).resolve("snapshots").resolve(commit);
  }

  /** The commit {@code revision} resolved to last time, if it did here. */
  Optional<String> hubRef(String repo, String revision) {
    Path ref = hubRepo(repo).resolve("refs").resolve(refName(revision));
    try {
      return Files.isRegularFile(ref)
          ? Optional.of(Files.readString(ref, StandardCharsets.UTF_8).trim())
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  void writeHubRef(String repo, String revision, String commit) throws IOException {
    Path ref = hubRepo(repo).resolve("refs").resolve(refName(revision));
    Files.createDirectories(ref.getParent());
    Path tmp = ref.resolveSibling(ref.getFileName() + ".tmp");
    Files.writeString(tmp, commit, StandardCharsets.UTF_8);
    move(tmp, ref);
  }

  /**
   * @param prefix the key prefix, ending in {@code /} unless empty
   */
  Path s3Snapshot(String bucket, String prefix, String version) {
    String trimmed = prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
    String name = trimmed.isEmpty() ? "_" : trimmed.replaceAll("[^A-Za-z0-9._-]", "_");
    return root.resolve("s3")
        .resolve(bucket)
        .resolve(name + "-" + sha256(prefix).substring(0, 8))
        .resolve(version);
  }

  /** Where {@code target} is written until it is complete and checked. */
  static Path part(Path target) {
    return target.resolveSibling(target.getFileName() + ".part");
  }

  /** A digest a server gave for a file: {@code SHA-256} (the Hub) or {@code MD5} (an S3 ETag). */
  record Checksum(String algorithm, String hex) {
    static Checksum sha256(String hex) {
      return hex == null ? null : new Checksum("SHA-256", hex);
    }
  }

  /**
   * Checks {@code part} against what the server said and moves it to {@code target}; on a mismatch
   * deletes it (the next attempt starts over) and fails naming {@code file}.
   *
   * @param size the expected size, or -1 when the server gave none
   * @param checksum the expected digest, or null when the server gave none
   */
  static void complete(Path part, Path target, String file, long size, Checksum checksum)
      throws IOException {
    long actual = Files.size(part);
    if (size >= 0 && actual != size) {
      Files.deleteIfExists(part);
      throw new FetchException(
          file,
          file
              + ": downloaded "
              + actual
              + " bytes, the server said "
              + size
              + "; the partial file was removed");
    }
    if (checksum != null) {
      String got = digest(part, checksum.algorithm());
      if (!got.equalsIgnoreCase(checksum.hex())) {
        Files.deleteIfExists(part);
        throw new FetchException(
            file,
            file
                + ": "
                + checksum.algorithm()
                + " "
                + got
                + " does not match the server's "
                + checksum.hex()
                + "; the partial file was removed");
      }
    }
    move(part, target);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** A revision as one file name ({@code refs/pr/1} holds slashes). */
  private static String refName(String revision) {
    return revision.replace("/", "%2F");
  }

  static String digest(Path file, String algorithm) throws IOException {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        digest.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
