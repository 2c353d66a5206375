package dev.flotilla.sdk;

import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A {@link FakeInference} served in-process or on a loopback port, recording every call's headers.
 */
public final class TestGateway implements AutoCloseable {
  /** Retries at once, so retry tests do not wait. */
  public static final RetryPolicy IMMEDIATE_RETRIES =
      RetryPolicy.builder()
          .maxAttempts(4)
          .initialBackoff(Duration.ZERO)
          .maxBackoff(Duration.ZERO)
          .build();

  public final FakeInference service = new FakeInference();
  public final List<Metadata> headers = new CopyOnWriteArrayList<>();
  private final Server server;
  private final ManagedChannel channel;

  private TestGateway(Kind kind) {
    var service = ServerInterceptors.intercept(this.service, new HeaderRecorder());
    try {
      if (kind == Kind.LOOPBACK) {
        // Loopback only: a test has no business listening on the machine's public interfaces.
        server =
            NettyServerBuilder.forAddress(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                    InsecureServerCredentials.create())
                .addService(service)
                .build()
                .start();
        channel = null;
        return;
      }
      String name = InProcessServerBuilder.generateName();
      var serverBuilder = InProcessServerBuilder.forName(name).addService(service);
      var channelBuilder = InProcessChannelBuilder.forName(name);
      if (kind == Kind.IN_PROCESS_DIRECT) {
        serverBuilder.directExecutor();
        channelBuilder.directExecutor();
      }
      server = serverBuilder.build().start();
      channel = channelBuilder.build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private enum Kind {
    IN_PROCESS,
    IN_PROCESS_DIRECT,
    LOOPBACK
  }

  public static TestGateway inProcess() {
    return new TestGateway(Kind.IN_PROCESS);
  }

  /**
   * Client and server callbacks run on the calling thread, so once a call that triggers delivery
   * returns, everything it could deliver has been delivered: demand tests need no waiting.
   */
  public static TestGateway inProcessDirect() {
    return new TestGateway(Kind.IN_PROCESS_DIRECT);
  }

  /** Served by Netty on a free port, for tests that go through a real connection (the CLI). */
  public static TestGateway loopback() {
    return new TestGateway(Kind.LOOPBACK);
  }

  /** The loopback target, {@code 127.0.0.1:port}. */
  public String target() {
    return "127.0.0.1:" + ((InetSocketAddress) server.getListenSockets().get(0)).getPort();
  }

  /** The in-process channel; the gateway closes it. */
  public ManagedChannel channel() {
    return channel;
  }

  /** An in-process client with API key {@code test-key} and {@link #IMMEDIATE_RETRIES}. */
  public FlotillaClient client() {
    return client(builder -> builder);
  }

  public FlotillaClient client(UnaryOperator<FlotillaClient.Builder> customize) {
    return customize
        .apply(
            FlotillaClient.builder()
                .channel(channel)
                .apiKey("test-key")
                .retryPolicy(IMMEDIATE_RETRIES))
        .build();
  }

  @Override
  public void close() throws InterruptedException {
    if (channel != null) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
  }

  private final class HeaderRecorder implements ServerInterceptor {
    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
        ServerCall<ReqT, RespT> call, Metadata metadata, ServerCallHandler<ReqT, RespT> next) {
      headers.add(metadata);
      return next.startCall(call, metadata);
    }
  }
}
