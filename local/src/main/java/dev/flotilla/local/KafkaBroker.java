package dev.flotilla.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A single-node Kafka (KRaft, broker and controller in one process) in its own JVM, run from the
 * Maven jars on this module's runtime class path: formatted once ({@code --standalone}) under
 * {@code dataDir}, listening on {@code 127.0.0.1:port} (its controller on {@code port + 1}), its
 * output in {@code log}. Starts in about ten seconds on two cores.
 */
public final class KafkaBroker implements AutoCloseable {
  private final ProcessSupervisor supervisor;
  private final ProcessSupervisor.Child child;
  private final int port;

  private KafkaBroker(ProcessSupervisor supervisor, ProcessSupervisor.Child child, int port) {
    this.supervisor = supervisor;
    this.child = child;
    this.port = port;
  }

  /** Starts the broker and waits until it answers and the {@code topics} exist. */
  public static KafkaBroker start(
      ProcessSupervisor supervisor,
      String classpath,
      Path dataDir,
      Path log,
      int port,
      List<String> topics,
      Duration timeout)
      throws IOException, InterruptedException {
    Files.createDirectories(dataDir);
    Path properties = dataDir.resolve("server.properties");
    Path logDirs = dataDir.resolve("data");
    Files.writeString(properties, serverProperties(port, logDirs));
    List<String> java =
        List.of(
            ProcessSupervisor.javaCommand(),
            "-Xms128m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info",
            "-cp",
            classpath);
    if (!Files.exists(logDirs.resolve("meta.properties"))) {
      List<String> format = new ArrayList<>(java);
      format.addAll(
          List.of(
              "kafka.tools.StorageTool",
              "format",
              "--standalone",
              "--ignore-formatted",
              "-t",
              Uuid.randomUuid().toString(),
              "-c",
              properties.toString()));
      ProcessSupervisor.Child formatting =
          supervisor.start("kafka-storage-format", format, Map.of(), log, dataDir);
      if (!formatting.process().waitFor(timeout.toSeconds(), TimeUnit.SECONDS)
          || formatting.process().exitValue() != 0) {
        supervisor.stop(formatting, Duration.ZERO);
        throw new IOException("formatting Kafka storage failed; see " + log);
      }
    }
    List<String> run = new ArrayList<>(java);
    run.addAll(List.of("kafka.Kafka", properties.toString()));
    KafkaBroker broker =
        new KafkaBroker(supervisor, supervisor.start("kafka", run, Map.of(), log, dataDir), port);
    try {
      broker.createTopics(topics, timeout);
    } catch (IOException | RuntimeException e) {
      broker.close();
      throw e;
    }
    return broker;
  }

  private static String serverProperties(int port, Path logDirs) {
    int controller = port + 1;
    return String.join(
        "\n",
        "# Written by Flotilla local mode: one node that is broker and controller.",
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.bootstrap.servers=127.0.0.1:" + controller,
        "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller,
        "advertised.listeners=PLAINTEXT://127.0.0.1:"
            + port
            + ",CONTROLLER://127.0.0.1:"
            + controller,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs=" + logDirs.toAbsolutePath(),
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "");
  }

  private void createTopics(List<String> topics, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Properties config = new Properties();
    config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000);
    config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 4000);
    try (Admin admin = Admin.create(config)) {
      while (true) {
        if (!child.isAlive()) {
          throw new IOException(
              "Kafka exited with " + child.process().exitValue() + "; see " + child.log());
        }
        try {
          admin.describeCluster().nodes().get(3, TimeUnit.SECONDS);
          for (String topic : topics) {
            try {
              admin
                  .createTopics(List.of(new NewTopic(topic, 1, (short) 1)))
                  .all()
                  .get(10, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
              if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
              }
            }
          }
          return;
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
          if (System.nanoTime() > deadline) {
            throw new IOException(
                "Kafka did not come up within " + timeout.toSeconds() + " s; see " + child.log(),
                e);
          }
          Thread.sleep(250);
        }
      }
    }
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  public long pid() {
    return child.pid();
  }

  @Override
  public void close() {
    supervisor.stop(child, Duration.ofSeconds(15)).join();
  }
}
