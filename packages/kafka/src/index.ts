export { createKafka, decodeHeaders, type Batch, type Consumer, type ConsumerOptions, type IncomingMessage, type KafkaClient, type KafkaLogger, type KafkaOptions, type OutgoingMessage, type Producer } from './client.ts'
export { ALL_TOPICS, TOPICS, type TopicDefinition } from './topics.ts'
