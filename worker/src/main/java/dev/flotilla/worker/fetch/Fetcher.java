package dev.flotilla.worker.fetch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Turns a {@link Source} into a directory the engine reads: a local one as it is, a Hub repository
 * through {@link HubClient}, an S3 prefix through {@link S3Fetcher}, both into the {@link
 * DownloadCache}. Asynchronous fetches run on their own threads, and a second request for a source
 * already being fetched joins the first.
 */
public final class Fetcher implements AutoCloseable {
  private final Path pvcRoot;
  private final DownloadCache cache;
  private final HubClient hub;
  private final Supplier<S3Fetcher> s3;
  private final ExecutorService executor =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "flotilla-fetch");
            t.setDaemon(true);
            return t;
          });
  private final Map<String, CompletableFuture<Path>> inFlight = new ConcurrentHashMap<>();
  private volatile S3Fetcher s3Client;

  /**
   * @param pvcRoot where {@code pvc://CLAIM} is mounted, as {@code <pvcRoot>/<CLAIM>}
   * @param s3 makes the S3 client on first use (an S3 client reads its credentials when made)
   */
  public Fetcher(Path pvcRoot, DownloadCache cache, HubClient hub, Supplier<S3Fetcher> s3) {
    this.pvcRoot = pvcRoot;
    this.cache = cache;
    this.hub = hub;
    this.s3 = s3;
  }

  /** Parses a source as this worker reads it ({@link Source#parse}). */
  public Source parse(String text) {
    return Source.parse(text, pvcRoot);
  }

  /** The directory that holds {@code set}'s files of {@code source}, fetched if need be. */
  public Path fetch(Source source, FileSet set, Progress progress) throws InterruptedException {
    if (source instanceof Source.Hub h) {
      return hub.fetch(h, set, cache, progress);
    }
    if (source instanceof Source.S3 s) {
      return s3().fetch(s, set, cache, progress);
    }
    return existing(((Source.Local) source).dir());
  }

  /** {@link #fetch} on a fetch thread; a request for a source already in flight joins it. */
  public CompletableFuture<Path> fetchAsync(
      Source source, FileSet set, Function<String, Progress> progress) {
    if (source instanceof Source.Local local) {
      try {
        return CompletableFuture.completedFuture(existing(local.dir()));
      } catch (FetchException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    String key = set + " " + source;
    CompletableFuture<Path> created = new CompletableFuture<>();
    CompletableFuture<Path> running = inFlight.putIfAbsent(key, created);
    if (running != null) {
      return running;
    }
    executor.execute(
        () -> {
          Path dir = null;
          Throwable error = null;
          try {
            dir = fetch(source, set, progress.apply(source.toString()));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error = e;
          } catch (RuntimeException | Error e) {
            error = e;
          } finally {
            // Out of the map before completing: a request after a failure starts a new attempt.
            inFlight.remove(key, created);
          }
          if (error == null) {
            created.complete(dir);
          } else {
            created.completeExceptionally(error);
          }
        });
    return created;
  }

  private S3Fetcher s3() {
    S3Fetcher c = s3Client;
    if (c == null) {
      synchronized (this) {
        if (s3Client == null) {
          s3Client = s3.get();
        }
        c = s3Client;
      }
    }
    return c;
  }

  private Path existing(Path dir) {
    if (!Files.isDirectory(dir)) {
      String hint =
          dir.startsWith(pvcRoot)
              ? " (pvc:// sources are read where the operator mounts their claim, "
                  + pvcRoot
                  + "/CLAIM; is the claim mounted in this pod?)"
              : "";
      throw new FetchException(dir.toString(), dir + " is not a directory" + hint);
    }
    if (!Files.isReadable(dir)) {
      throw new FetchException(dir.toString(), dir + " is not readable");
    }
    return dir;
  }

  @Override
  public void close() {
    executor.shutdownNow();
    if (s3Client != null) {
      s3Client.close();
    }
  }
}
