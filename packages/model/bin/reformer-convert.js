#!/usr/bin/env node
import '../dist/convert-cli.js';
