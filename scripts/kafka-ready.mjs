// Exits 0 when the broker at argv[2] answers a metadata request (used by scripts/services.sh up).
import kafkajs from 'kafkajs';
const { Kafka, logLevel } = kafkajs;
const admin = new Kafka({ clientId: 'driftline-ready', brokers: [process.argv[2] ?? '127.0.0.1:9092'], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000 }).admin();
try {
  await admin.connect();
  await admin.describeCluster();
  await admin.disconnect();
  process.exit(0);
} catch {
  process.exit(1);
}
