import { render } from 'preact';
import { App } from './app';

// Entry point: the page's only script (CSP: script-src 'self', nothing inline).
const root = document.getElementById('app');
if (root) render(<App />, root);
