import { describe, expect, it } from 'vitest';
import { requestHostName } from './http.js';

describe('the redirect of / to the dashboard', () => {
  it('takes the host name the request named, and nothing that is not one', () => {
    expect(requestHostName('127.0.0.1:3001')).toBe('127.0.0.1');
    expect(requestHostName('tickflow.example.com')).toBe('tickflow.example.com');
    expect(requestHostName('[::1]:3001')).toBe('[::1]');
    expect(requestHostName('evil.example/path?x=:1')).toBe('127.0.0.1');
    expect(requestHostName('')).toBe('127.0.0.1');
  });
});
