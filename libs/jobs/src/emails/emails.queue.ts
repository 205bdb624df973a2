/**
 * The app's own BullMQ queue, next to the library's tasks: the api adds to it
 * (`@InjectQueue(EMAILS_QUEUE)`), and only the worker process consumes it
 * (apps/worker's EmailsProcessor).
 */
export const EMAILS_QUEUE = 'emails';

export interface WelcomeEmail {
  userId: string;
}

export interface WelcomeEmailSent {
  sentTo: string;
  template: 'welcome';
}
