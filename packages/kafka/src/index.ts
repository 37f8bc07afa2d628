export { createKafka } from './client.ts'
export { decodeHeaders } from './consumer.ts'
export {
  type Batch,
  type Consumer,
  type ConsumerOptions,
  type IncomingMessage,
  type KafkaClient,
  type KafkaLogger,
  type KafkaOptions,
  type OutgoingMessage,
  type Producer,
} from './types.ts'
export {
  createRetryingHandler,
  deadLetterHeaders,
  DeadLetterHeaderError,
  DLQ_ERROR_MESSAGE_MAX_LENGTH,
  DLQ_HEADERS,
  parseDeadLetter,
  type DeadLetter,
  type DeadLetterReason,
  type HandleOutcome,
  type RetryingHandlerOptions,
} from './dlq.ts'
export { readTopic, topicSize } from './read-topic.ts'
export { ALL_TOPICS, TOPICS, type TopicDefinition } from './topics.ts'
export {
  EVENT_HEADERS,
  InvalidEventError,
  ORDER_STATUSES,
  OrderRequestedV1,
  OrderStatusChangedV1,
  eventHeaders,
  parseEvent,
  type OrderRequested,
  type OrderStatus,
  type OrderStatusChanged,
} from './contracts.ts'
