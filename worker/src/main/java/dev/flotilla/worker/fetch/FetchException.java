package dev.flotilla.worker.fetch;

/** A download that failed; the message names the file and the cause. */
public final class FetchException extends RuntimeException {
  private final String file;

  public FetchException(String file, String message) {
    super(message);
    this.file = file;
  }

  public FetchException(String file, String message, Throwable cause) {
    super(message, cause);
    this.file = file;
  }

  /** The file it is about, as named in the repository or bucket. */
  public String file() {
    return file;
  }
}
